"""Evaluation: a model's metrics on a labelled file (scikit-learn's metrics, never our own
arithmetic), perplexity for language models, plots and an HTML report per evaluation, and
the promotion gate that reads them."""

from aimaas.evaluate.metrics import Evaluation, RocCurve, evaluate_predictions, evaluate_predictor
from aimaas.evaluate.predict import Predictions, predict_dataset

__all__ = [
    "Evaluation",
    "Predictions",
    "RocCurve",
    "evaluate_predictions",
    "evaluate_predictor",
    "predict_dataset",
]

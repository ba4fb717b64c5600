"""Evaluation: a model's metrics on a labelled file (scikit-learn's metrics, never our own
arithmetic), perplexity for language models, plots and an HTML report per evaluation, and
the promotion gate that reads them.

The names below load on first use, so that the API process, which only submits and reads
evaluations, never imports scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aimaas.evaluate.dataset_predictions import Predictions, predict_dataset
    from aimaas.evaluate.metrics import (
        Evaluation,
        RocCurve,
        evaluate_predictions,
        evaluate_predictor,
    )

_WHERE = {
    "Evaluation": "metrics",
    "RocCurve": "metrics",
    "evaluate_predictions": "metrics",
    "evaluate_predictor": "metrics",
    "Predictions": "dataset_predictions",
    "predict_dataset": "dataset_predictions",
}
__all__ = [
    "Evaluation",
    "Predictions",
    "RocCurve",
    "evaluate_predictions",
    "evaluate_predictor",
    "predict_dataset",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"aimaas.evaluate.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'aimaas.evaluate' has no attribute {name!r}")

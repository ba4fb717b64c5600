"""A model's metrics on a labelled dataset, every number from scikit-learn's metric
functions (never our own arithmetic).

Classifiers: ``accuracy``, precision / recall / F1 (``_macro`` and ``_weighted``, and per
class), ``roc_auc`` (binary, or one-vs-rest macro), ``log_loss``, the confusion matrix and
ROC curves. Regressors: ``mse``, ``rmse``, ``mae``, ``r2``. A label in the file that the
model never saw counts as an error (its rows can never be predicted right) and is reported
in ``unseen_labels``; those rows are left out of ``roc_auc`` and ``log_loss``, which need a
probability for the true class.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning  # type: ignore[import-untyped]
from sklearn.metrics import (  # type: ignore[import-untyped]
    accuracy_score,
    auc,
    confusion_matrix,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    precision_recall_fscore_support,
    r2_score,
    roc_auc_score,
    roc_curve,
    root_mean_squared_error,
)

from aimaas.errors import InvalidInput
from aimaas.evaluate.dataset_predictions import Predictions, predict_dataset
from aimaas.evaluate.names import ALL_METRICS as ALL_METRICS
from aimaas.evaluate.names import LOWER_IS_BETTER as LOWER_IS_BETTER
from aimaas.evaluate.names import better as better
from aimaas.learn.preprocessing import normalize_labels, numeric_targets
from aimaas.learn.servable import Predictor
from aimaas.uploads.dataset import Dataset


@dataclass
class RocCurve:
    """One ROC curve: the positive class, its points and the area under them."""

    label: str
    fpr: list[float]
    tpr: list[float]
    auc: float


@dataclass
class Evaluation:
    task: str  # classification, regression or language_model
    rows: int
    metrics: dict[str, float]
    per_class: dict[str, dict[str, float]] | None = None
    confusion_matrix: list[list[int]] | None = None
    labels: list[Any] | None = None  # rows and columns of the confusion matrix
    roc_curves: list[RocCurve] | None = None
    unseen_labels: dict[str, int] | None = None  # label -> rows, all counted as errors
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def evaluate_predictor(predictor: Predictor, dataset: Dataset) -> Evaluation:
    """Run ``predictor`` over ``dataset`` and score its answers against the targets."""
    if dataset.targets is None:
        raise InvalidInput(
            "The file has no labels or targets to compare the model's answers with.",
            param="file",
        )
    return evaluate_predictions(predict_dataset(predictor, dataset), dataset.targets)


def evaluate_predictions(predictions: Predictions, targets: np.ndarray) -> Evaluation:
    if len(predictions) != len(targets):
        raise ValueError(f"{len(predictions)} predictions for {len(targets)} targets")
    if len(targets) == 0:
        raise InvalidInput("The file has no rows to evaluate on.", param="file")
    if predictions.task == "regression":
        return _regression(predictions.predicted, targets)
    return _classification(predictions, targets)


# --- regression ------------------------------------------------------------------------------


def _regression(predicted: np.ndarray, targets: np.ndarray) -> Evaluation:
    y_true = numeric_targets(targets)
    if y_true is None:
        raise InvalidInput(
            "The target column holds text; a regressor is scored on numbers.", param="target"
        )
    y_pred = np.asarray(predicted, dtype=np.float64)
    metrics = {
        "mse": mean_squared_error(y_true, y_pred),
        "rmse": root_mean_squared_error(y_true, y_pred),
        "mae": mean_absolute_error(y_true, y_pred),
    }
    notes: list[str] = []
    if len(y_true) >= 2:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            metrics["r2"] = r2_score(y_true, y_pred)
    return Evaluation(
        task="regression",
        rows=len(y_true),
        metrics=_finite(metrics, notes),
        notes=notes,
    )


# --- classification --------------------------------------------------------------------------


def comparable_labels(targets: np.ndarray, classes: list[Any]) -> tuple[list[Any], list[Any]]:
    """(the true labels, the model's classes) as one type scikit-learn can compare: the
    targets normalised as at training time, everything as str when either side has text."""
    y_true = normalize_labels(targets)
    if any(isinstance(x, str) for x in [*y_true, *classes]):
        return [str(x) for x in y_true], [str(x) for x in classes]
    return y_true, list(classes)


def _classification(predictions: Predictions, targets: np.ndarray) -> Evaluation:
    assert predictions.labels is not None and predictions.probabilities is not None
    y_true, classes = comparable_labels(targets, predictions.labels)
    as_text = bool(classes) and isinstance(classes[0], str)
    y_pred = [str(x) if as_text else x for x in predictions.predicted.tolist()]
    known = set(classes)
    unseen: dict[Any, int] = {}
    for label in y_true:
        if label not in known:
            unseen[label] = unseen.get(label, 0) + 1
    labels = classes + sorted(unseen, key=lambda x: (isinstance(x, str), x))
    notes: list[str] = []
    if unseen:
        notes.append(
            f"{sum(unseen.values())} row(s) have label(s) the model never saw in training "
            f"({', '.join(repr(x) for x in list(unseen)[:10])}); they count as errors, and "
            "are left out of roc_auc and log_loss."
        )
    y_true_a, y_pred_a = np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object)
    if not as_text:
        y_true_a, y_pred_a = np.asarray(y_true), np.asarray(y_pred)
    metrics: dict[str, float] = {"accuracy": accuracy_score(y_true_a, y_pred_a)}
    for average in ("macro", "weighted"):
        precision, recall, f1, _ = precision_recall_fscore_support(
            y_true_a, y_pred_a, average=average, zero_division=0
        )
        metrics[f"precision_{average}"] = precision
        metrics[f"recall_{average}"] = recall
        metrics[f"f1_{average}"] = f1
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true_a, y_pred_a, labels=labels, average=None, zero_division=0
    )
    per_class = {
        str(label): {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": float(support[i]),
        }
        for i, label in enumerate(labels)
    }
    matrix = confusion_matrix(y_true_a, y_pred_a, labels=labels)
    curves = _probability_metrics(
        y_true_a, predictions.probabilities, classes, known, metrics, notes
    )
    return Evaluation(
        task="classification",
        rows=len(y_true),
        metrics=_finite(metrics, notes),
        per_class=per_class,
        confusion_matrix=[[int(v) for v in row] for row in matrix.tolist()],
        labels=labels,
        roc_curves=curves,
        unseen_labels={str(k): v for k, v in unseen.items()} or None,
        notes=notes,
    )


def _probability_metrics(
    y_true: np.ndarray,
    probabilities: np.ndarray,
    classes: list[Any],
    known: set[Any],
    metrics: dict[str, float],
    notes: list[str],
) -> list[RocCurve]:
    """roc_auc, log_loss and the ROC curves, on the rows whose label the model knows."""
    rows = np.array([label in known for label in y_true.tolist()], dtype=bool)
    y, p = y_true[rows], probabilities[rows]
    if len(y) == 0:
        notes.append("No row has a label the model knows: no roc_auc, log_loss or ROC curves.")
        return []
    present = set(y.tolist())
    if len(present) < 2:
        notes.append("The file holds one class only: roc_auc and ROC curves are undefined.")
    else:
        try:
            if len(classes) == 2:
                metrics["roc_auc"] = roc_auc_score(y == classes[1], p[:, 1])
            else:
                metrics["roc_auc"] = roc_auc_score(
                    y, p, multi_class="ovr", average="macro", labels=classes
                )
        except ValueError as exc:
            notes.append(f"roc_auc is undefined here: {exc}")
    metrics["log_loss"] = log_loss(y, p, labels=classes)
    curves = []
    positives = [classes[1]] if len(classes) == 2 else classes
    for label in positives:
        if label not in present or len(present) < 2:
            continue
        k = classes.index(label)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            fpr, tpr, _ = roc_curve(y == label, p[:, k])
        curves.append(
            RocCurve(label=str(label), fpr=fpr.tolist(), tpr=tpr.tolist(), auc=float(auc(fpr, tpr)))
        )
    return curves


def _finite(metrics: dict[str, Any], notes: list[str]) -> dict[str, float]:
    """Plain floats; a metric that came out NaN or infinite is dropped, with a note."""
    out: dict[str, float] = {}
    for name, value in metrics.items():
        number = float(value)
        if math.isfinite(number):
            out[name] = number
        else:
            notes.append(f"{name} is undefined on this file ({number}).")
    return out

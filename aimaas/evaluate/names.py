"""The metrics an evaluation reports, by name, and which way is better (no scikit-learn
import here: the API process reads these without loading it)."""

from __future__ import annotations

CLASSIFICATION_METRICS = (
    "accuracy",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "precision_weighted",
    "recall_weighted",
    "f1_weighted",
    "roc_auc",
    "log_loss",
)
REGRESSION_METRICS = ("mse", "rmse", "mae", "r2")
LANGUAGE_MODEL_METRICS = ("perplexity",)
ALL_METRICS: tuple[str, ...] = CLASSIFICATION_METRICS + REGRESSION_METRICS + LANGUAGE_MODEL_METRICS
# Metrics where a smaller number is the better model.
LOWER_IS_BETTER: frozenset[str] = frozenset({"log_loss", "mse", "rmse", "mae", "perplexity"})


def better(metric: str, candidate: float, reference: float) -> bool:
    """Whether ``candidate`` is at least as good as ``reference`` on ``metric``."""
    if metric in LOWER_IS_BETTER:
        return candidate <= reference
    return candidate >= reference

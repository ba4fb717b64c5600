"""The metric names an evaluation reports, and which way each one is better: the constants'
invariants and ``better`` in both directions, ties included."""

from __future__ import annotations

import pytest

from aimaas.evaluate import names
from aimaas.evaluate.names import better


def test_lower_is_better_metrics_compare_the_other_way() -> None:
    assert better("f1_macro", 0.9, 0.8) and not better("f1_macro", 0.7, 0.8)
    for metric in ("log_loss", "mse", "rmse", "mae", "perplexity"):
        assert better(metric, 0.7, 0.8) and not better(metric, 0.9, 0.8)


@pytest.mark.parametrize("metric", ["accuracy", "roc_auc", "r2", "log_loss", "perplexity"])
def test_a_tie_is_at_least_as_good(metric: str) -> None:
    assert better(metric, 0.5, 0.5)


def test_every_metric_is_named_once_and_lower_is_better_only_for_known_ones() -> None:
    assert len(set(names.ALL_METRICS)) == len(names.ALL_METRICS)
    assert set(names.ALL_METRICS) == (
        set(names.CLASSIFICATION_METRICS)
        | set(names.REGRESSION_METRICS)
        | set(names.LANGUAGE_MODEL_METRICS)
    )
    assert names.LOWER_IS_BETTER.issubset(names.ALL_METRICS)
    # Scores and rates are higher-is-better; losses and errors lower-is-better.
    higher = {"accuracy", "precision_macro", "recall_weighted", "f1_macro", "roc_auc", "r2"}
    assert not higher & names.LOWER_IS_BETTER


def test_an_unknown_metric_is_taken_as_higher_is_better() -> None:
    assert better("my_score", 2.0, 1.0) and not better("my_score", 1.0, 2.0)

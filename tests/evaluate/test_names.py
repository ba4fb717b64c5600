"""Metric names and which way is better: what the promotion gate compares with."""

from __future__ import annotations

from aimaas.evaluate.names import ALL_METRICS, LOWER_IS_BETTER, better


def test_lower_is_better_only_for_losses_and_errors() -> None:
    assert set(ALL_METRICS) >= LOWER_IS_BETTER
    assert better("mse", 0.1, 0.2) and not better("mse", 0.3, 0.2)
    assert better("accuracy", 0.9, 0.8) and not better("accuracy", 0.7, 0.8)


def test_a_tie_is_as_good() -> None:
    assert all(better(metric, 1.0, 1.0) for metric in ALL_METRICS)


def test_every_metric_is_named_once() -> None:
    assert len(ALL_METRICS) == len(set(ALL_METRICS))

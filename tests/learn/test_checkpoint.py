"""Checkpoints that resume a stopped run to exactly the weights of an uninterrupted one,
refuse another run's, and are not written before the first step ends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aimaas.learn import trainer
from aimaas.learn.checkpoint import STATE
from tests.learn import CASES, StopAt, one_thread, same_tensors, train_case


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


@pytest.mark.parametrize("algorithm", sorted(CASES))
def test_a_run_stopped_mid_epoch_resumes_to_identical_weights(
    algorithm: str, tmp_path: Path
) -> None:
    uninterrupted = train_case(algorithm, None)
    dataset, params = CASES[algorithm]
    steps_per_epoch = -(-len(dataset) // params.get("batch_size", 32))
    stop_in_epoch_2 = StopAt(steps_per_epoch + steps_per_epoch // 2)
    with pytest.raises(trainer.TrainingStopped):
        train_case(algorithm, tmp_path, should_stop=stop_in_epoch_2)
    events: list[dict[str, Any]] = []
    resumed = train_case(algorithm, tmp_path, events=events)
    assert events[0] == {"type": "resumed", "epoch": 1}
    assert [e["epoch"] for e in events if e["type"] == "epoch"] == list(
        range(2, params["epochs"] + 1)
    )
    assert same_tensors(resumed, uninterrupted)
    assert resumed.metrics == pytest.approx(
        uninterrupted.metrics | {"elapsed_s": resumed.metrics["elapsed_s"]}
    )


def test_a_checkpoint_from_another_run_is_refused(tmp_path: Path) -> None:
    train_case("mlp", tmp_path, epochs=1)
    with pytest.raises(ValueError, match="different training run"):
        train_case("mlp", tmp_path, epochs=1, learning_rate=0.5)


def test_cancelling_before_the_first_step_leaves_no_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(trainer.TrainingStopped):
        train_case("mlp", tmp_path, should_stop=lambda: True)
    assert not (tmp_path / STATE).exists()

"""Progress events, cancellation, early stopping, and checkpoints that resume a stopped
run to exactly the weights of an uninterrupted one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer

from aimaas.learn import trainer
from aimaas.learn.checkpoint import STATE
from aimaas.learn.servable import TrainedModel
from aimaas.uploads.dataset import Dataset
from tests.learn import digits, never, no_events, one_thread, same_tensors, topic_texts


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


def cancer() -> Dataset:
    data = load_breast_cancer()
    names = [str(name) for name in data.feature_names]
    return Dataset("table", features=data.data, targets=data.target, feature_names=names)


CASES: dict[str, tuple[Dataset, dict[str, Any]]] = {
    "mlp": (cancer(), {"epochs": 4, "hidden_sizes": [32, 16], "dropout": 0.3, "batch_size": 16}),
    "rnn": (
        topic_texts(160, seed=0),
        {"epochs": 3, "hidden_size": 16, "embedding_dim": 8, "dropout": 0.2, "num_layers": 2},
    ),
}


class StopAt:
    """should_stop that turns True at the ``step``-th check."""

    def __init__(self, step: int) -> None:
        self.step, self.checks = step, 0

    def __call__(self) -> bool:
        self.checks += 1
        return self.checks >= self.step


def run(
    algorithm: str,
    directory: Path | None,
    *,
    should_stop: Any = never,
    events: list[dict[str, Any]] | None = None,
    **overrides: Any,
) -> TrainedModel:
    dataset, params = CASES[algorithm]
    return trainer.train(
        algorithm,
        dataset,
        None,
        params | overrides,
        seed=7,
        checkpoint_dir=directory,
        on_event=no_events if events is None else events.append,
        should_stop=should_stop,
    )


@pytest.mark.parametrize("algorithm", sorted(CASES))
def test_a_run_stopped_mid_epoch_resumes_to_identical_weights(
    algorithm: str, tmp_path: Path
) -> None:
    uninterrupted = run(algorithm, None)
    dataset, params = CASES[algorithm]
    steps_per_epoch = -(-len(dataset) // params.get("batch_size", 32))
    stop_in_epoch_2 = StopAt(steps_per_epoch + steps_per_epoch // 2)
    with pytest.raises(trainer.TrainingStopped):
        run(algorithm, tmp_path, should_stop=stop_in_epoch_2)
    events: list[dict[str, Any]] = []
    resumed = run(algorithm, tmp_path, events=events)
    assert events[0] == {"type": "resumed", "epoch": 1}
    assert [e["epoch"] for e in events if e["type"] == "epoch"] == list(
        range(2, params["epochs"] + 1)
    )
    assert same_tensors(resumed, uninterrupted)
    assert resumed.metrics == pytest.approx(
        uninterrupted.metrics | {"elapsed_s": resumed.metrics["elapsed_s"]}
    )


def test_the_same_seed_gives_the_same_weights_and_another_seed_does_not() -> None:
    first, second = run("mlp", None), run("mlp", None)
    assert same_tensors(first, second)
    dataset, params = CASES["mlp"]
    other = trainer.train(
        "mlp",
        dataset,
        None,
        params,
        seed=8,
        checkpoint_dir=None,
        on_event=no_events,
        should_stop=never,
    )
    assert not same_tensors(first, other)


def test_events_report_progress_and_validation(tmp_path: Path) -> None:
    train, test = digits("tensor")
    events: list[dict[str, Any]] = []
    trainer.train(
        "rnn",
        train,
        test,
        {"epochs": 2, "hidden_size": 16, "batch_size": 16},
        seed=0,
        checkpoint_dir=tmp_path,
        on_event=events.append,
        should_stop=never,
    )
    epochs = [e for e in events if e["type"] == "epoch"]
    steps = [e for e in events if e["type"] == "step"]
    assert [e["epoch"] for e in epochs] == [1, 2]
    assert set(epochs[0]) == {
        "type",
        "epoch",
        "epochs",
        "step",
        "loss",
        "val_loss",
        "val_accuracy",
        "elapsed_s",
    }
    assert epochs[-1]["step"] == 2 * -(-len(train) // 16)
    assert 0 < len([s for s in steps if s["epoch"] == 1]) <= 10
    assert all(np.isfinite(e["loss"]) for e in events if "loss" in e)
    assert sorted(p.name for p in tmp_path.iterdir()) == [STATE, "epoch-000002.safetensors"]


def test_early_stopping_keeps_the_best_epoch(tmp_path: Path) -> None:
    train, test = digits("tensor")
    events: list[dict[str, Any]] = []
    trained = trainer.train(
        "mlp",
        train,
        test,
        {"epochs": 200, "patience": 2, "learning_rate": 0.05, "hidden_sizes": [64]},
        seed=0,
        checkpoint_dir=tmp_path,
        on_event=events.append,
        should_stop=never,
    )
    stop = [e for e in events if e["type"] == "early_stop"]
    assert len(stop) == 1 and stop[0]["epoch"] < 200
    val_losses = [e["val_loss"] for e in events if e["type"] == "epoch"]
    assert trained.metrics["val_loss"] == pytest.approx(min(val_losses), rel=1e-5)
    assert trained.spec["training"]["best_epoch"] == int(np.argmin(val_losses)) + 1
    again: list[dict[str, Any]] = []  # a finished run's checkpoint trains no further
    resumed = trainer.train(
        "mlp",
        train,
        test,
        {"epochs": 200, "patience": 2, "learning_rate": 0.05, "hidden_sizes": [64]},
        seed=0,
        checkpoint_dir=tmp_path,
        on_event=again.append,
        should_stop=never,
    )
    assert [e["type"] for e in again] == ["resumed"]
    assert same_tensors(resumed, trained)


def test_a_checkpoint_from_another_run_is_refused(tmp_path: Path) -> None:
    run("mlp", tmp_path, epochs=1)
    with pytest.raises(ValueError, match="different training run"):
        run("mlp", tmp_path, epochs=1, learning_rate=0.5)


def test_cancelling_before_the_first_step_leaves_no_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(trainer.TrainingStopped):
        run("mlp", tmp_path, should_stop=lambda: True)
    assert not (tmp_path / STATE).exists()


def test_training_leaves_the_callers_random_state_alone() -> None:
    before = torch.get_rng_state()
    run("mlp", None, epochs=1)
    assert torch.equal(torch.get_rng_state(), before)

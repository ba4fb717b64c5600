"""loop.py: the minibatch loop's events, early stopping that keeps the best epoch, the
divergence refusal, and the seeds and penalties it derives."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from aimaas.errors import InvalidInput
from aimaas.learn import algorithms, architectures, encoding, trainer
from aimaas.learn import hyperparameters as hp
from aimaas.learn.checkpoint import STATE
from aimaas.learn.examples import Examples
from aimaas.learn.loop import STEP_EVENTS, Loop, _epoch_seed, _penalty
from aimaas.learn.specs import ModelDescription
from aimaas.uploads.dataset import Dataset
from tests.learn import digits, never, no_events, one_thread, same_tensors


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


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


def table(rows: int, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(rows, 3))
    targets = features @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=rows)
    return Dataset("table", features=features, targets=targets, feature_names=["a", "b", "c"])


def loop(
    dataset: Dataset, raw: dict[str, Any], *, events: list[dict[str, Any]] | None = None
) -> tuple[Loop, Examples]:
    """A Loop for an MLP regressor on ``dataset``, put together from the public parts."""
    params = hp.parse("mlp", raw)
    assert isinstance(params, hp.Training)
    task = algorithms.resolve_task("mlp", params, dataset.targets)
    coding = encoding.fit(dataset, layout="flat", task=task)
    examples = coding.examples(dataset, task, param="training_file")
    config = architectures.network_config("mlp", params, coding, task, examples)
    spec = ModelDescription("mlp", task, config, coding, architectures.output_size(config))
    torch.manual_seed(0)
    network = architectures.build("mlp", config)
    sink = no_events if events is None else events.append
    runner = Loop(
        network, spec, params, examples, None, seed=0, on_event=sink, check_stop=lambda: None
    )
    return runner, examples


def test_a_run_without_validation_reports_the_training_loss_each_epoch() -> None:
    events: list[dict[str, Any]] = []
    runner, _ = loop(
        table(100), {"epochs": 3, "batch_size": 10, "hidden_sizes": [8]}, events=events
    )
    progress = runner.run(None, "run")
    assert (progress.epoch, progress.step, progress.stopped_early) == (3, 30, False)
    epochs = [e for e in events if e["type"] == "epoch"]
    assert [e["step"] for e in epochs] == [10, 20, 30]
    assert not any(key.startswith("val_") for e in epochs for key in e)
    assert progress.train_loss == pytest.approx(epochs[-1]["loss"], rel=1e-12)
    assert epochs[-1]["loss"] < epochs[0]["loss"]  # it learns a linear map
    steps = [e for e in events if e["type"] == "step"]
    assert len(steps) == 3 * STEP_EVENTS  # 10 steps an epoch: every one reported


def test_step_events_are_capped_per_epoch() -> None:
    events: list[dict[str, Any]] = []
    runner, _ = loop(table(95), {"epochs": 1, "batch_size": 1, "hidden_sizes": [4]}, events=events)
    runner.run(None, "run")
    steps = [e["step"] for e in events if e["type"] == "step"]
    assert 0 < len(steps) <= STEP_EVENTS
    assert steps == list(range(10, 95, 10))  # every ceil(95 / 10) = 10th step


def test_a_diverging_loss_names_the_learning_rate() -> None:
    dataset = table(20)
    runner, examples = loop(dataset, {"epochs": 1, "hidden_sizes": [4]})
    assert examples.features is not None
    examples.features[3, 0] = float("inf")  # the forward pass gives inf, then NaN
    with pytest.raises(InvalidInput) as caught:
        runner.run(None, "run")
    assert caught.value.param == "hyperparameters.learning_rate"
    assert caught.value.message.startswith("Training diverged in epoch 1 (the loss is")


def test_the_check_stop_is_asked_before_every_step() -> None:
    class Stop(Exception):
        pass

    asked: list[int] = []

    def check() -> None:
        asked.append(1)
        if len(asked) == 4:
            raise Stop

    runner, _ = loop(table(50), {"epochs": 2, "batch_size": 10, "hidden_sizes": [4]})
    runner.check_stop = check
    with pytest.raises(Stop):
        runner.run(None, "run")
    assert len(asked) == 4


def test_the_epoch_seed_depends_on_the_seed_and_epoch_only() -> None:
    seeds = {_epoch_seed(seed, epoch) for seed in (0, 1, 2**40, -1) for epoch in range(5)}
    assert len(seeds) == 20
    assert _epoch_seed(7, 3) == _epoch_seed(7, 3)
    assert all(0 <= s < 2**63 for s in seeds)


def test_the_penalty_is_per_squared_weight_and_row() -> None:
    assert _penalty("logistic_regression", hp.parse("logistic_regression", {"l2": 2.0}), 10) == 0.1
    assert _penalty("linear_regression", hp.parse("linear_regression", {"l2": 2.0}), 10) == 0.2
    assert _penalty("mlp", hp.parse("mlp", {}), 10) == 0.0

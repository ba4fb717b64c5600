"""A short fine-tune: a few more epochs of the shared training loop on the parent's data,
seeded (the same seed gives the same weights), each event tagged ``phase: fine_tune``, the
last epoch's metrics returned, pruning masks held, the caller's random state untouched, and
a stop request obeyed."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load
from sklearn.datasets import load_iris  # type: ignore[import-untyped]
from torch import nn

from aimaas.jobs.context import Cancelled
from aimaas.learn import artifacts, specs, trainer
from aimaas.learn.architectures import load_network
from aimaas.learn.inputs import TrainingData
from aimaas.optimize import prune as pruning
from aimaas.optimize.finetune import fine_tune
from aimaas.uploads.dataset import Dataset
from tests.learn import never, no_events, one_thread

HYPERPARAMETERS = {"epochs": 3, "hidden_sizes": [8], "batch_size": 16}


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


def iris() -> TrainingData:
    data = load_iris()
    names = [f"x{i}" for i in range(4)]
    everything = Dataset("table", features=data.data, targets=data.target, feature_names=names)
    order = np.random.default_rng(0).permutation(len(everything))
    train, validation = everything.subset(order[:120]), everything.subset(order[120:])
    return TrainingData(train=train, validation=validation, file_ids=[])


@functools.cache
def parent() -> tuple[bytes, bytes]:
    data = iris()
    model = trainer.train(
        "mlp", data.train, data.validation, HYPERPARAMETERS, seed=0, checkpoint_dir=None,
        on_event=no_events, should_stop=never,
    )  # fmt: skip
    return artifacts.save(model)


def network() -> tuple[nn.Module, specs.ModelDescription]:
    weights, spec_json = parent()
    spec = specs.read(spec_json)
    return load_network(spec.algorithm, spec.config, load(weights)), spec


def tuned(epochs: int, seed: int, events: list[dict[str, Any]] | None = None) -> tuple[
    nn.Module, dict[str, float]
]:  # fmt: skip
    model, spec = network()
    found = fine_tune(
        model, spec, HYPERPARAMETERS, iris(), epochs=epochs, seed=seed,
        on_event=(events.append if events is not None else no_events), check_stop=lambda: None,
    )  # fmt: skip
    return model, found


def test_it_trains_the_given_epochs_and_returns_the_last_ones_metrics() -> None:
    events: list[dict[str, Any]] = []
    model, found = tuned(2, seed=0, events=events)
    epochs = [e for e in events if e["type"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2] and all(e["epochs"] == 2 for e in epochs)
    assert events and all(e["phase"] == "fine_tune" for e in events)
    assert found == {k: v for k, v in epochs[-1].items() if isinstance(v, float)}
    assert "loss" in found and "val_accuracy" in found
    assert not model.training
    original, _ = network()
    assert any(
        not torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), original.state_dict().values(), strict=True)
    )


def test_the_same_seed_gives_the_same_weights_and_another_seed_others() -> None:
    a, _ = tuned(1, seed=3)
    b, _ = tuned(1, seed=3)
    c, _ = tuned(1, seed=4)
    pairs = list(zip(a.state_dict().values(), b.state_dict().values(), strict=True))
    assert all(torch.equal(x, y) for x, y in pairs)
    assert any(
        not torch.equal(x, y)
        for x, y in zip(a.state_dict().values(), c.state_dict().values(), strict=True)
    )


def test_the_callers_random_state_is_left_as_it_was() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    tuned(1, seed=0)
    assert torch.equal(torch.rand(3), expected)


def test_pruned_weights_stay_zero_while_it_trains() -> None:
    model, spec = network()
    targets = pruning.prune_global(model, 0.6)
    masks: list[torch.Tensor] = [getattr(m, f"{name}_mask") for m, name in targets]
    zeros = [mask == 0 for mask in masks]
    fine_tune(
        model, spec, HYPERPARAMETERS, iris(), epochs=2, seed=0, on_event=no_events,
        check_stop=lambda: None,
    )  # fmt: skip
    pruning.make_permanent(targets)
    for (module, name), mask in zip(targets, zeros, strict=True):
        assert bool((getattr(module, name)[mask] == 0).all())
    assert pruning.sparsity(model) == pytest.approx(0.6, abs=0.01)


def test_a_stop_request_ends_it() -> None:
    model, spec = network()
    calls: list[int] = []

    def stop() -> None:
        calls.append(1)
        if len(calls) > 2:
            raise Cancelled("stopped")

    with pytest.raises(Cancelled):
        fine_tune(
            model, spec, HYPERPARAMETERS, iris(), epochs=5, seed=0, on_event=no_events,
            check_stop=stop,
        )  # fmt: skip
    assert len(calls) == 3

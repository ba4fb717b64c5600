"""models/mlp.py: the MLP learns tables as a classifier and as a regressor; its layers
follow the config, and dropout acts only while training."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_diabetes  # type: ignore[import-untyped]
from torch import nn

from aimaas.learn import trainer
from aimaas.learn.models.mlp import MLP, MLPConfig
from tests.learn import never, no_events, one_thread, tables


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


def test_mlp_classifies_and_regresses_tables() -> None:
    train, test, _ = tables(load_breast_cancer, stratify=True)
    trained = trainer.train(
        "mlp",
        train,
        test,
        {"epochs": 40, "hidden_sizes": [32]},
        seed=0,
        checkpoint_dir=None,
        on_event=no_events,
        should_stop=never,
    )
    assert trained.spec["task"] == "classification" and trained.metrics["val_accuracy"] >= 0.94
    train, test, _ = tables(load_diabetes, stratify=False)
    trained = trainer.train(
        "mlp",
        train,
        test,
        {"epochs": 60, "hidden_sizes": [16], "weight_decay": 0.01},
        seed=0,
        checkpoint_dir=None,
        on_event=no_events,
        should_stop=never,
    )
    assert trained.spec["task"] == "regression" and trained.metrics["val_r2"] >= 0.3


def test_the_layers_follow_the_config() -> None:
    model = MLP(MLPConfig(n_features=5, hidden_sizes=(8, 4), n_outputs=3, dropout=0.1))
    linears = [m for m in model.hidden if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(5, 8), (8, 4)]
    assert sum(isinstance(m, nn.ReLU) for m in model.hidden) == 2
    assert (model.head.in_features, model.head.out_features) == (4, 3)
    assert model(torch.randn(7, 5)).shape == (7, 3)


def test_no_hidden_layers_is_one_linear_map() -> None:
    model = MLP(MLPConfig(n_features=3, hidden_sizes=(), n_outputs=1, dropout=0.0))
    assert len(model.hidden) == 0
    x = torch.randn(2, 3)
    assert torch.equal(model(x), model.head(x))


def test_dropout_acts_only_while_training() -> None:
    torch.manual_seed(0)
    model = MLP(MLPConfig(n_features=4, hidden_sizes=(64,), n_outputs=2, dropout=0.5))
    x = torch.randn(3, 4)
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    assert not torch.equal(model(x), model(x))

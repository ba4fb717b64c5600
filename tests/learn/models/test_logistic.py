"""models/logistic.py: logistic regression lands where scikit-learn does on its bundled
datasets (by L-BFGS and by minibatch gradient descent); the binary model's logits are
[0, z], so softmax gives sigmoid; only the weights are penalized."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_iris  # type: ignore[import-untyped]
from sklearn.linear_model import LogisticRegression as SkLogisticRegression  # type: ignore[import-untyped]
from sklearn.pipeline import make_pipeline  # type: ignore[import-untyped]
from sklearn.preprocessing import StandardScaler  # type: ignore[import-untyped]

from aimaas.learn.models.logistic import LogisticConfig, LogisticRegression
from tests.learn import one_thread, predict, serve_table, tables


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


@pytest.mark.parametrize("loader", [load_breast_cancer, load_iris])
@pytest.mark.parametrize("solver", ["lbfgs", "gradient_descent"])
def test_logistic_regression_matches_scikit_learn(loader: Callable[..., Any], solver: str) -> None:
    train, _, (x_train, x_test, y_train, y_test) = tables(loader, stratify=True)
    reference = make_pipeline(StandardScaler(), SkLogisticRegression()).fit(x_train, y_train)
    expected = reference.score(x_test, y_test)
    params = {"solver": solver, "epochs": 150, "batch_size": 64, "learning_rate": 0.05}
    predictor = serve_table(train, params, "logistic_regression")
    accuracy = float(np.mean(predict(predictor, x_test, "label") == y_test))
    tolerance = 0.01 if solver == "lbfgs" else 0.03
    assert accuracy >= expected - tolerance, (accuracy, expected)
    assert predictor.labels == sorted(set(y_train.tolist()))


def test_the_binary_model_gives_logits_zero_and_z() -> None:
    torch.manual_seed(0)
    model = LogisticRegression(LogisticConfig(n_features=3, n_classes=2))
    assert model.binary and model.linear.out_features == 1
    x = torch.randn(5, 3)
    out = model(x)
    assert out.shape == (5, 2)
    assert torch.equal(out[:, 0], torch.zeros(5))
    z = model.linear(x)[:, 0]
    assert torch.allclose(out.softmax(dim=1)[:, 1], torch.sigmoid(z), atol=1e-6)


def test_the_multinomial_model_gives_one_logit_per_class() -> None:
    model = LogisticRegression(LogisticConfig(n_features=4, n_classes=3))
    assert not model.binary
    x = torch.randn(2, 4)
    out = model(x, None)
    assert out.shape == (2, 3)
    assert torch.equal(out, model.linear(x))


def test_only_the_weights_are_penalized() -> None:
    model = LogisticRegression(LogisticConfig(n_features=4, n_classes=2))
    assert model.penalized() is model.linear.weight
    assert model.penalized().shape == (1, 4)

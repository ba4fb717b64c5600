"""models/linear.py: linear regression lands where scikit-learn does on the diabetes data
(closed form and gradient descent); the ridge solver matches the textbook solution, stays
finite on duplicate columns, and never penalizes the intercept."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch
from sklearn.datasets import load_diabetes  # type: ignore[import-untyped]
from sklearn.linear_model import LinearRegression as SkLinearRegression  # type: ignore[import-untyped]
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score  # type: ignore[import-untyped]

from aimaas.learn.models.linear import LinearConfig, LinearRegression, solve_normal_equation
from tests.learn import one_thread, predict, serve_table, tables


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


@pytest.mark.parametrize("solver", ["normal_equation", "gradient_descent"])
def test_linear_regression_matches_scikit_learn(solver: str) -> None:
    train, _, (x_train, x_test, y_train, y_test) = tables(load_diabetes, stratify=False)
    expected = SkLinearRegression().fit(x_train, y_train).score(x_test, y_test)
    predictor = serve_table(train, {"solver": solver, "epochs": 200}, "linear_regression")
    r2 = r2_score(y_test, predict(predictor, x_test, "prediction"))
    assert abs(r2 - expected) < 0.01, (r2, expected)


def centred(rows: int, features: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, features))
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    y = x @ rng.normal(size=features) + 3.0 + 0.1 * rng.normal(size=rows)
    return torch.from_numpy(x), torch.from_numpy(y)


@pytest.mark.parametrize("l2", [0.0, 5.0])
def test_the_normal_equation_is_ridge_on_centred_features(l2: float) -> None:
    x, y = centred(50, 4, seed=0)
    weights, intercept = solve_normal_equation(x.float(), y.float(), l2)
    assert weights.dtype == torch.float64 and weights.shape == (4,)
    assert float(intercept) == pytest.approx(float(y.float().double().mean()), abs=1e-9)
    reference = Ridge(alpha=l2, solver="svd").fit(x.float().numpy(), y.float().numpy())
    assert np.allclose(weights.numpy(), reference.coef_, atol=1e-4)
    assert float(intercept) == pytest.approx(float(reference.intercept_), abs=1e-4)


def test_a_larger_l2_shrinks_the_weights() -> None:
    x, y = centred(40, 3, seed=1)
    norms = [float(solve_normal_equation(x, y, l2)[0].norm()) for l2 in (0.0, 10.0, 1000.0)]
    assert norms[0] > norms[1] > norms[2] > 0


def test_duplicate_and_constant_columns_get_the_minimum_norm_solution() -> None:
    x, y = centred(30, 1, seed=2)
    design = torch.cat([x, x, torch.zeros_like(x)], dim=1)  # XᵀX is singular
    weights, _ = solve_normal_equation(design, y, 0.0)
    single, _ = solve_normal_equation(x, y, 0.0)
    assert bool(torch.isfinite(weights).all())
    assert weights[0] == pytest.approx(float(single[0]) / 2, abs=1e-9)
    assert weights[1] == pytest.approx(float(single[0]) / 2, abs=1e-9)
    assert weights[2] == pytest.approx(0.0, abs=1e-12)


def test_the_network_is_one_linear_map_and_penalizes_its_weights_only() -> None:
    model = LinearRegression(LinearConfig(n_features=3))
    x = torch.randn(4, 3)
    assert model(x).shape == (4, 1)
    assert torch.equal(model(x, None), x @ model.linear.weight.T + model.linear.bias)
    assert model.penalized() is model.linear.weight

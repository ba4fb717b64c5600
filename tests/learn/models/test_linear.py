"""Linear regression: ridge weights from the normal equation agree with scikit-learn's Ridge;
the intercept is never penalized."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

from aimaas.learn.models.linear import LinearConfig, LinearRegression, solve_normal_equation


def test_the_normal_equation_is_scikit_learns_ridge() -> None:
    x, y = load_diabetes(return_X_y=True)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    for l2 in (0.0, 1.0, 100.0):
        weights, intercept = solve_normal_equation(torch.from_numpy(x), torch.from_numpy(y), l2)
        reference = Ridge(alpha=l2).fit(x, y)
        assert np.allclose(weights.numpy(), reference.coef_, rtol=1e-6, atol=1e-6)
        assert abs(float(intercept) - reference.intercept_) < 1e-6


def test_only_the_weights_are_penalized() -> None:
    network = LinearRegression(LinearConfig(n_features=3))
    assert network(torch.zeros(2, 3)).shape == (2, 1)
    assert network.penalized() is network.linear.weight

"""The two models that need no training loop: least squares in closed form, and logistic
regression by full-batch L-BFGS (the quasi-Newton method scikit-learn uses by default),
in float64 so both land where scikit-learn does."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from aimaas.learn.examples import Examples
from aimaas.learn.models.linear import LinearRegression, solve_normal_equation
from aimaas.learn.models.logistic import LogisticRegression

ROUND = 20  # L-BFGS iterations between progress reports and stop checks


def fit_normal_equation(network: LinearRegression, examples: Examples, l2: float) -> float:
    """Ridge in closed form; returns the training mean squared error (standardized)."""
    assert examples.features is not None and examples.targets is not None
    weights, intercept = solve_normal_equation(examples.features, examples.targets, l2)
    with torch.no_grad():
        network.linear.weight.copy_(weights[None, :].float())
        network.linear.bias.copy_(intercept.float())
        predictions = network(examples.features)[:, 0]
    return float(F.mse_loss(predictions, examples.targets))


def fit_lbfgs(
    network: LogisticRegression,
    examples: Examples,
    *,
    l2: float,
    max_iter: int,
    check_stop: Callable[[], None],
    report: Callable[[int, int, float], None],
) -> float:
    """Minimise mean cross-entropy + (l2 / 2N)·‖W‖² on a float64 copy of ``network``,
    copying the weights back and calling ``report(round, rounds, loss)`` every ROUND
    iterations. Returns the final objective."""
    assert examples.features is not None and examples.targets is not None
    x, y = examples.features.double(), examples.targets
    penalty = l2 / (2 * len(y))
    precise = copy.deepcopy(network).double()
    optimizer = torch.optim.LBFGS(
        precise.parameters(),
        lr=1.0,
        max_iter=ROUND,
        history_size=20,
        tolerance_grad=1e-9,
        tolerance_change=1e-12,
        line_search_fn="strong_wolfe",
    )

    def objective() -> Tensor:
        check_stop()
        optimizer.zero_grad()
        loss = F.cross_entropy(precise(x), y) + penalty * precise.penalized().pow(2).sum()
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    rounds = math.ceil(max_iter / ROUND)
    state = optimizer.state[next(iter(precise.parameters()))]
    for done in range(1, rounds + 1):
        before = int(state.get("n_iter", 0))
        optimizer.step(objective)  # type: ignore[no-untyped-call]
        with torch.no_grad():
            loss = F.cross_entropy(precise(x), y) + penalty * precise.penalized().pow(2).sum()
            network.load_state_dict({k: v.float() for k, v in precise.state_dict().items()})
        report(done, rounds, float(loss))
        if int(state.get("n_iter", 0)) - before < ROUND:  # converged within the round
            break
    return float(loss)

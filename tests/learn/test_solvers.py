"""solvers.py: L-BFGS finds scikit-learn's logistic regression coefficients; the closed
form copies the ridge solution into the network; L-BFGS reports each round, stops when
asked and leaves float32 weights behind."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import load_breast_cancer  # type: ignore[import-untyped]
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
from sklearn.pipeline import make_pipeline  # type: ignore[import-untyped]
from sklearn.preprocessing import StandardScaler  # type: ignore[import-untyped]

from aimaas.learn import solvers, trainer
from aimaas.learn.examples import Examples
from aimaas.learn.models.linear import LinearConfig, LinearRegression, solve_normal_equation
from aimaas.learn.models.logistic import LogisticConfig
from aimaas.learn.models.logistic import LogisticRegression as Logistic
from tests.learn import never, no_events, one_thread, tables


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


def test_lbfgs_finds_scikit_learns_coefficients() -> None:
    train, _, (x_train, _, y_train, _) = tables(load_breast_cancer, stratify=True)
    reference = make_pipeline(StandardScaler(), LogisticRegression(tol=1e-8, max_iter=10_000))
    reference.fit(x_train, y_train)
    trained = trainer.train(
        "logistic_regression",
        train,
        None,
        {},
        seed=0,
        checkpoint_dir=None,
        on_event=no_events,
        should_stop=never,
    )
    ours = trained.weights["linear.weight"][0].numpy()
    theirs = reference[-1].coef_[0]
    assert np.allclose(ours, theirs, atol=2e-3), np.abs(ours - theirs).max()


def regression(rows: int = 60) -> Examples:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(rows, 3, generator=generator)
    x = (x - x.mean(dim=0)) / x.std(dim=0)  # standardized, as the solver expects
    y = x @ torch.tensor([1.0, -0.5, 2.0]) + 0.3 + 0.05 * torch.randn(rows, generator=generator)
    return Examples(features=x, targets=y)


def classes(rows: int = 80) -> Examples:
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(rows, 2, generator=generator)
    y = (x[:, 0] + 0.5 * torch.randn(rows, generator=generator) > 0).long()
    return Examples(features=x, targets=y)


@pytest.mark.parametrize("l2", [0.0, 3.0])
def test_the_normal_equation_goes_into_the_network(l2: float) -> None:
    examples = regression()
    assert examples.features is not None and examples.targets is not None
    network = LinearRegression(LinearConfig(n_features=3))
    loss = solvers.fit_normal_equation(network, examples, l2)
    weights, intercept = solve_normal_equation(examples.features, examples.targets, l2)
    assert network.linear.weight.dtype == torch.float32
    assert torch.allclose(network.linear.weight[0].detach(), weights.float(), atol=1e-6)
    assert float(network.linear.bias.detach()) == pytest.approx(float(intercept), abs=1e-6)
    with torch.no_grad():
        expected = F.mse_loss(network(examples.features)[:, 0], examples.targets)
    assert loss == pytest.approx(float(expected), rel=1e-6)
    assert loss < 0.01 if l2 == 0.0 else loss > 0.01  # the noise is 0.05², ridge adds bias


def test_lbfgs_reports_each_round_and_copies_float32_weights_back() -> None:
    examples = classes()
    network = Logistic(LogisticConfig(n_features=2, n_classes=2))
    reports: list[tuple[int, int, float]] = []
    loss = solvers.fit_lbfgs(
        network,
        examples,
        l2=1.0,
        max_iter=45,
        check_stop=lambda: None,
        report=lambda done, rounds, value: reports.append((done, rounds, value)),
    )
    assert [r[:2] for r in reports] == [(i, 3) for i in range(1, len(reports) + 1)]
    assert loss == reports[-1][2]
    assert all(t.dtype == torch.float32 for t in network.state_dict().values())
    assert examples.features is not None and examples.targets is not None
    with torch.no_grad():
        penalty = 1.0 / (2 * 80) * network.linear.weight.double().pow(2).sum()
        objective = F.cross_entropy(network(examples.features).double(), examples.targets)
    assert loss == pytest.approx(float(objective + penalty), rel=1e-5)


def test_a_stronger_l2_gives_smaller_weights() -> None:
    norms = []
    for l2 in (0.01, 100.0):
        network = Logistic(LogisticConfig(n_features=2, n_classes=2))
        solvers.fit_lbfgs(
            network,
            classes(),
            l2=l2,
            max_iter=100,
            check_stop=lambda: None,
            report=lambda *_: None,
        )
        norms.append(float(network.linear.weight.detach().norm()))
    assert norms[0] > norms[1] > 0


def test_lbfgs_stops_when_asked() -> None:
    class Stop(Exception):
        pass

    def stop() -> None:
        raise Stop

    network = Logistic(LogisticConfig(n_features=2, n_classes=2))
    before = {k: v.clone() for k, v in network.state_dict().items()}
    with pytest.raises(Stop):
        solvers.fit_lbfgs(
            network, classes(), l2=1.0, max_iter=20, check_stop=stop, report=lambda *_: None
        )
    assert all(torch.equal(before[k], v) for k, v in network.state_dict().items())

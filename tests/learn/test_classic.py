"""L-BFGS finds scikit-learn's coefficients; validation columns are matched by name; a
small hold-out still validates (tests that move on to test_solvers, test_encoding and
test_trainer)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer  # type: ignore[import-untyped]
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
from sklearn.pipeline import make_pipeline  # type: ignore[import-untyped]
from sklearn.preprocessing import StandardScaler  # type: ignore[import-untyped]

from aimaas.errors import InvalidInput
from aimaas.learn import trainer
from aimaas.uploads.dataset import Dataset
from tests.learn import logistic, never, no_events, one_thread, tables


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


def test_validation_columns_are_matched_by_name() -> None:
    train, test, _ = tables(load_breast_cancer, stratify=True)
    assert test.features is not None and test.feature_names is not None
    reversed_test = Dataset(
        "table",
        features=test.features[:, ::-1],
        targets=test.targets,
        feature_names=test.feature_names[::-1],
    )
    metrics = [
        logistic(train, held_out).metrics["val_accuracy"] for held_out in (test, reversed_test)
    ]
    assert metrics[0] == metrics[1] >= 0.95
    renamed = Dataset(
        "table",
        features=test.features,
        targets=test.targets,
        feature_names=["x", *test.feature_names[1:]],
    )
    with pytest.raises(InvalidInput) as caught:
        trainer.train(
            "logistic_regression",
            train,
            renamed,
            {},
            seed=0,
            checkpoint_dir=None,
            on_event=no_events,
            should_stop=never,
        )
    assert (
        caught.value.param == "validation_file"
        and "missing ['mean radius']" in caught.value.message
    )


def test_a_small_hold_out_with_one_class_or_one_row_still_validates() -> None:
    """A random 10 % hold-out of a small file can be one row, or rows of one class: the job
    trains and reports validation metrics instead of failing (it did, one run in seven, for
    a 60-row CSV). The training part still needs two classes."""
    features = np.arange(40, dtype=np.float64).reshape(20, 2)
    labels = np.array(["no"] * 14 + ["yes"] * 6, dtype=object)
    train = Dataset(kind="table", features=features, targets=labels, feature_names=["a", "b"])
    for rows in ([0, 1, 2], [5]):  # three "no" rows; a single row
        trained = logistic(train, train.subset(np.array(rows)))
        assert 0.0 <= trained.metrics["val_accuracy"] <= 1.0
    one_class = Dataset(
        kind="table", features=features, targets=np.array(["no"] * 20, dtype=object)
    )
    with pytest.raises(InvalidInput, match="at least 2 different target values"):
        logistic(one_class, None)

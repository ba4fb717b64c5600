"""trainer.py: ``train`` turns data and hyperparameters into a TrainedModel: one seed
decides the weights, the caller's RNG is untouched, the closed-form solvers report one
epoch, stops and bad data raise, and the spec records the training facts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch

from aimaas.errors import InvalidInput
from aimaas.jobs.context import Cancelled
from aimaas.learn import hyperparameters as hp
from aimaas.learn import trainer
from aimaas.learn.servable import TrainedModel
from aimaas.uploads.dataset import Dataset
from tests.learn import CASES, logistic, never, no_events, one_thread, same_tensors, train_case


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


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


def test_the_same_seed_gives_the_same_weights_and_another_seed_does_not() -> None:
    first, second = train_case("mlp", None), train_case("mlp", None)
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


def test_training_leaves_the_callers_random_state_alone() -> None:
    before = torch.get_rng_state()
    train_case("mlp", None, epochs=1)
    assert torch.equal(torch.get_rng_state(), before)


def line(rows: int, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(rows, 2))
    targets = 3.0 * features[:, 0] - features[:, 1] + 5.0
    return Dataset("table", features=features, targets=targets, feature_names=["x", "y"])


def fit(
    algorithm: str,
    train: Dataset,
    validation: Dataset | None = None,
    params: Any = None,
    *,
    events: list[dict[str, Any]] | None = None,
    should_stop: Any = never,
) -> TrainedModel:
    return trainer.train(
        algorithm,
        train,
        validation,
        {} if params is None else params,
        seed=3,
        checkpoint_dir=None,
        on_event=no_events if events is None else events.append,
        should_stop=should_stop,
    )


def test_the_normal_equation_reports_one_epoch_and_fits_exactly() -> None:
    events: list[dict[str, Any]] = []
    trained = fit("linear_regression", line(40), line(10, seed=1), events=events)
    assert [e["type"] for e in events] == ["epoch"]
    assert (events[0]["epoch"], events[0]["epochs"]) == (1, 1)
    assert trained.metrics["epochs"] == 1.0
    assert trained.metrics["train_loss"] == pytest.approx(0.0, abs=1e-8)
    assert trained.metrics["val_r2"] == pytest.approx(1.0, abs=1e-6)
    assert trained.metrics["elapsed_s"] >= 0.0
    assert trained.spec["training"]["epochs"] == 1 and trained.spec["training"]["best_epoch"] == 1


def test_lbfgs_reports_rounds_until_it_converges() -> None:
    events: list[dict[str, Any]] = []
    dataset, _ = CASES["mlp"]  # breast cancer, 30 features
    trained = fit("logistic_regression", dataset, params={"max_iter": 60}, events=events)
    assert [e["epoch"] for e in events] == list(range(1, len(events) + 1))
    assert 1 <= len(events) <= 3 and all(e["epochs"] == 3 for e in events)
    assert trained.metrics["train_loss"] == pytest.approx(events[-1]["loss"], rel=1e-12)


def test_the_spec_records_the_training_facts() -> None:
    train, validation = line(30), line(7, seed=1)
    params = hp.parse("mlp", {"epochs": 2, "hidden_sizes": [4], "task": "regression"})
    trained = fit("mlp", train, validation, params)
    training = trained.spec["training"]
    assert training == {
        "seed": 3,
        "rows": 30,
        "validation_rows": 7,
        "epochs": 2,
        "best_epoch": 2,
        "hyperparameters": params.model_dump(mode="json"),
    }
    assert trained.spec["algorithm"] == "mlp" and trained.spec["task"] == "regression"
    assert set(trained.metrics) == {
        "train_loss",
        "epochs",
        "val_loss",
        "val_r2",
        "val_mse",
        "elapsed_s",
    }
    assert all(t.is_contiguous() for t in trained.weights.values())


def test_bad_hyperparameters_name_the_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        fit("mlp", line(10), params={"epochs": 0})
    assert caught.value.param is not None and caught.value.param.endswith("epochs")


def test_a_validation_label_never_seen_in_training_names_the_validation_file() -> None:
    features = np.arange(20, dtype=np.float64).reshape(10, 2)
    train = Dataset("table", features=features, targets=np.array([0, 1] * 5))
    validation = Dataset("table", features=features[:2], targets=np.array([0, 7]))
    with pytest.raises(InvalidInput) as caught:
        fit("logistic_regression", train, validation)
    assert caught.value.param == "validation_file"
    assert "Row 1 has label 7" in caught.value.message


def test_word2vec_without_a_single_pair_of_known_words_is_refused() -> None:
    corpus = Dataset("text", texts=["alpha", "beta", "gamma delta"])
    with pytest.raises(InvalidInput) as caught:
        fit("word2vec", corpus, params={"min_count": 2})
    assert caught.value.param == "training_file"
    assert caught.value.message.startswith("No text has two known words within the window")


@pytest.mark.parametrize(
    ("algorithm", "params"),
    [
        ("linear_regression", {}),
        ("logistic_regression", {}),
        ("mlp", {"epochs": 1}),
    ],
)
def test_a_stop_request_raises_training_stopped(algorithm: str, params: dict[str, Any]) -> None:
    dataset = line(20)
    if algorithm == "logistic_regression":
        assert dataset.targets is not None
        dataset = Dataset("table", features=dataset.features, targets=dataset.targets > 5)
    with pytest.raises(trainer.TrainingStopped, match=f"{algorithm} training was stopped"):
        fit(algorithm, dataset, params=params, should_stop=lambda: True)
    assert issubclass(trainer.TrainingStopped, Cancelled)

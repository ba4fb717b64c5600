"""check_dataset refuses what an algorithm cannot train on, naming the file parameter."""

from __future__ import annotations

import numpy as np
import pytest

from aimaas.errors import InvalidInput
from aimaas.learn import algorithms, hyperparameters
from aimaas.uploads.dataset import Dataset


def table(targets: list[object] | None, rows: int = 4) -> Dataset:
    features = np.arange(rows * 2, dtype=np.float64).reshape(rows, 2)
    return Dataset(
        "table",
        features=features,
        targets=None if targets is None else np.asarray(targets, dtype=object),
        feature_names=["a", "b"],
    )


def refused(algorithm: str, dataset: Dataset, param: str = "training_file") -> str:
    with pytest.raises(InvalidInput) as caught:
        algorithms.check_dataset(algorithm, dataset, param=param)
    assert caught.value.param == param
    return caught.value.message


def test_a_valid_table_passes() -> None:
    algorithms.check_dataset("logistic_regression", table(["x", "y", "x", "y"]))
    algorithms.check_dataset("linear_regression", table([0.5, 1.5, 2.5, 3.0]))


def test_an_unsupported_kind_names_the_kinds_it_takes() -> None:
    message = refused("cnn", table([0, 1, 0, 1]), param="validation_file")
    assert "images or tensor" in message and "table" in message


def test_missing_targets_are_refused() -> None:
    assert "no targets" in refused("mlp", table(None))


@pytest.mark.parametrize("bad", [None, float("nan"), ""])
def test_a_row_without_a_label_is_named(bad: object) -> None:
    assert "Row 2" in refused("mlp", table([0, 1, bad, 1]))


def test_a_single_class_is_refused() -> None:
    assert "at least 2 different" in refused("logistic_regression", table(["a"] * 4))


def test_linear_regression_needs_numbers() -> None:
    assert "numeric" in refused("linear_regression", table(["a", "b", "a", "c"]))


def test_nan_features_name_the_row() -> None:
    dataset = table([0, 1, 0, 1])
    assert dataset.features is not None
    dataset.features[3, 1] = np.nan
    assert "Row 3" in refused("mlp", dataset)


def test_tensor_ranks_per_algorithm() -> None:
    cube = Dataset("tensor", features=np.zeros((4, 2, 2, 2, 2), np.float32), targets=np.arange(4))
    assert "[N, T, F]" in refused("rnn", cube)
    assert "[N, C, H, W]" in refused("cnn", cube)


def test_images_must_be_uint8_with_one_or_three_channels() -> None:
    images = Dataset("images", features=np.zeros((4, 8, 8, 2), np.uint8), targets=np.arange(4))
    assert "C 1 or 3" in refused("cnn", images)


def test_texts_need_words_and_word2vec_needs_no_targets() -> None:
    assert "words" in refused("rnn", Dataset("text", texts=["...", "!"], targets=np.array([0, 1])))
    algorithms.check_dataset("word2vec", Dataset("text", texts=["one two", "three"]))
    assert not algorithms.ALGORITHMS["word2vec"].needs_targets


def test_auto_task_is_regression_only_for_non_integer_numbers() -> None:
    params = hyperparameters.parse("mlp", {})
    assert algorithms.resolve_task("mlp", params, np.array([0.5, 1.0])) == "regression"
    assert algorithms.resolve_task("mlp", params, np.array([1.0, 2.0])) == "classification"
    assert algorithms.resolve_task("mlp", params, np.array(["a", "b"])) == "classification"
    counts = np.arange(500, dtype=np.float64)  # whole numbers, but far too many to be classes
    assert algorithms.resolve_task("mlp", params, counts) == "regression"
    forced = hyperparameters.parse("mlp", {"task": "regression"})
    assert algorithms.resolve_task("mlp", forced, np.array([1, 2])) == "regression"

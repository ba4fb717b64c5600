"""preprocessing.py: the standardizer, label encoder, target scaler and tokenizer fitted on
training data, their JSON forms read back strictly, and the label helpers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from aimaas.errors import InvalidInput
from aimaas.learn.preprocessing import (
    PAD,
    SPECIALS,
    UNKNOWN,
    LabelEncoder,
    Standardizer,
    TargetScaler,
    Tokenizer,
    missing_rows,
    normalize_labels,
    numeric_targets,
    sorted_labels,
)


def test_a_per_feature_standardizer_centres_and_scales_each_column() -> None:
    values = np.array([[1.0, 10.0, 5.0], [3.0, 30.0, 5.0], [5.0, 50.0, 5.0]])
    scaler = Standardizer.fit(values, per_feature=True)
    assert scaler.mean.tolist() == pytest.approx([3.0, 30.0, 5.0])
    assert scaler.std[2] == 1.0  # a constant column is divided by 1, so it stays 0
    out = scaler.transform(values)
    assert out.dtype == np.float32
    assert out[:, :2].mean(axis=0) == pytest.approx([0.0, 0.0], abs=1e-6)
    assert out[:, :2].std(axis=0) == pytest.approx([1.0, 1.0], abs=1e-6)
    assert out[:, 2].tolist() == [0.0, 0.0, 0.0]


def test_a_scalar_standardizer_uses_one_mean_for_every_value() -> None:
    values = np.array([[[0.0, 2.0]], [[4.0, 6.0]]])  # (2, 1, 2)
    scaler = Standardizer.fit(values, per_feature=False)
    assert scaler.mean.shape == () and float(scaler.mean) == pytest.approx(3.0)
    out = scaler.transform(values)
    assert out.shape == (2, 1, 2)
    assert float(out.mean()) == pytest.approx(0.0, abs=1e-6)


def test_a_standardizer_round_trips_through_json_and_checks_it() -> None:
    scaler = Standardizer.fit(np.array([[1.0, 2.0], [3.0, 6.0]]), per_feature=True)
    again = Standardizer.from_json(scaler.to_json(), 2)
    assert again.mean.tolist() == scaler.mean.tolist()
    assert again.std.tolist() == scaler.std.tolist()
    bad: list[tuple[Any, int | None, str]] = [
        ({"mean": [0.0]}, 1, "standardize"),
        ({"mean": [0.0], "std": [1.0], "x": 1}, 1, "standardize"),
        ({"mean": [0.0, 0.0], "std": [1.0, 1.0]}, 3, "standardize shapes"),
        ({"mean": [0.0], "std": [1.0]}, None, "standardize shapes"),  # a scalar was promised
        ({"mean": [0.0], "std": [0.0]}, 1, "standardize values"),
        ({"mean": [float("nan")], "std": [1.0]}, 1, "standardize values"),
    ]
    for data, size, says in bad:
        with pytest.raises(ValueError, match=f"model spec: invalid {says}"):
            Standardizer.from_json(data, size)
    scalar = Standardizer.from_json({"mean": 3.0, "std": 2.0}, None)
    assert scalar.transform(np.array([5.0])).tolist() == [1.0]


def test_the_target_scaler_restores_what_it_transformed() -> None:
    targets = np.array([10.0, 20.0, 30.0, 40.0])
    scaler = TargetScaler.fit(targets)
    scaled = scaler.transform(targets)
    assert scaled.dtype == np.float32
    assert float(scaled.mean()) == pytest.approx(0.0, abs=1e-6)
    assert scaler.restore(scaled) == pytest.approx(targets, rel=1e-6)
    assert TargetScaler.fit(np.array([7.0, 7.0])).std == 1.0
    assert TargetScaler.from_json({"mean": 1, "std": 2.5}) == TargetScaler(1.0, 2.5)


@pytest.mark.parametrize(
    "data",
    [[1, 2], {"mean": 0.0}, {"mean": 0.0, "std": 0.0}, {"mean": "0", "std": 1.0},
     {"mean": 0.0, "std": True}, {"mean": float("inf"), "std": 1.0}],
)  # fmt: skip
def test_a_bad_target_scaler_is_refused(data: Any) -> None:
    with pytest.raises(ValueError, match="model spec: invalid target"):
        TargetScaler.from_json(data)


def test_labels_are_sorted_and_encoded_by_position() -> None:
    encoder = LabelEncoder.fit(np.array(["cat", "ant", "bee", "ant"], dtype=object))
    assert encoder.classes == ["ant", "bee", "cat"]
    assert not encoder.integer
    ids = encoder.encode(np.array(["bee", "cat", "ant"], dtype=object), param="p")
    assert ids.dtype == np.int64 and ids.tolist() == [1, 2, 0]
    numbers = LabelEncoder.fit(np.array([3.0, 1.0, 2.0, 1.0]))
    assert numbers.classes == [1, 2, 3] and numbers.integer
    assert numbers.encode(np.array([2, 3]), param="p").tolist() == [1, 2]


def test_string_classes_accept_numbers_that_print_the_same() -> None:
    encoder = LabelEncoder(classes=["1", "2", "x"])
    assert encoder.encode(np.array([2, 1]), param="p").tolist() == [1, 0]


def test_an_unseen_label_names_its_row_and_the_known_labels() -> None:
    encoder = LabelEncoder.fit(np.arange(12))
    with pytest.raises(InvalidInput) as caught:
        encoder.encode(np.array([0, 5, 99]), param="validation_file")
    assert caught.value.param == "validation_file"
    message = caught.value.message
    assert message.startswith("Row 2 has label 99, which the training data never has")
    assert "0, 1, 2, 3, 4, 5, 6, 7, 8, 9, ... (12 in all)" in message


def test_labels_read_back_from_json_strictly() -> None:
    assert LabelEncoder.from_json(["a", "b"]).classes == ["a", "b"]
    assert LabelEncoder.from_json([0, 1.5]).index == {0: 0, 1.5: 1}
    for data in (["only"], "ab", ["a", "a"], ["a", None], [True, False], [1, float("nan")]):
        with pytest.raises(ValueError, match="model spec: invalid labels"):
            LabelEncoder.from_json(data)


def test_the_tokenizer_keeps_the_most_frequent_words_seen_often_enough() -> None:
    texts = ["The cat, the dog!", "THE cat sat", "a dog? the end"]
    tokenizer = Tokenizer.fit(texts, max_vocab=3, min_count=2, max_length=4)
    # counts: the 4, cat 2, dog 2; sat, a, end once: ties broken alphabetically
    assert tokenizer.vocabulary == [*SPECIALS, "the", "cat", "dog"]
    assert Tokenizer.words("Hello, WORLD_1 it's") == ["hello", "world_1", "it", "s"]
    assert tokenizer.encode("the cat ate the dog").tolist() == [2, 3, UNKNOWN, 2]  # at most 4
    assert tokenizer.encode("ate the dog", known_only=True).tolist() == [2, 4]
    assert tokenizer.encode("...").tolist() == [UNKNOWN]
    assert tokenizer.encode("...", known_only=True).tolist() == []
    assert tokenizer.encode("x").dtype == np.int64
    assert PAD not in tokenizer.encode("the cat").tolist()


def test_token_counts_add_up_per_id() -> None:
    tokenizer = Tokenizer(vocabulary=[*SPECIALS, "a", "b"], max_length=8)
    counts = tokenizer.counts([np.array([2, 2, 3]), np.array([3, 1])])
    assert counts.tolist() == [0.0, 1.0, 2.0, 2.0]


def test_the_tokenizer_round_trips_through_json_and_checks_it() -> None:
    tokenizer = Tokenizer.fit(["b a b"], max_vocab=10, min_count=1, max_length=5)
    data = tokenizer.to_json()
    assert data == {
        "pattern": "words-v1",
        "lowercase": True,
        "max_length": 5,
        "vocabulary": ["<pad>", "<unk>", "b", "a"],
    }
    assert Tokenizer.from_json(data) == tokenizer
    bad = [
        data | {"pattern": r"\S+"},
        data | {"lowercase": False},
        data | {"max_length": 0},
        data | {"max_length": "5"},
        data | {"vocabulary": ["b", "a"]},
        data | {"vocabulary": [*SPECIALS, "a", "a"]},
        data | {"vocabulary": [*SPECIALS, 3]},
        [],
    ]
    for case in bad:
        with pytest.raises(ValueError, match="model spec: invalid"):
            Tokenizer.from_json(case)


def test_normalized_labels_are_json_safe() -> None:
    assert normalize_labels(np.array([1.0, 2.5, 3])) == [1, 2.5, 3]
    assert [type(x) for x in normalize_labels(np.array([1.0, 2.0]))] == [int, int]
    assert normalize_labels(np.array([True, False], dtype=object)) == ["True", "False"]
    assert normalize_labels(np.array([1, "a"], dtype=object)) == ["1", "a"]
    assert normalize_labels(np.array([float("nan"), 1.0])) == ["nan", "1"]
    assert sorted_labels([3, 1, 2, 1]) == [1, 2, 3]
    assert sorted_labels(["b", "a", "b"]) == ["a", "b"]


def test_numeric_targets_are_float64_or_none() -> None:
    ints = numeric_targets(np.array([1, 2, 3]))
    assert ints is not None and ints.dtype == np.float64 and ints.tolist() == [1.0, 2.0, 3.0]
    mixed = numeric_targets(np.array([1, 2.5], dtype=object))
    assert mixed is not None and mixed.tolist() == [1.0, 2.5]
    assert numeric_targets(np.array([1, "2"], dtype=object)) is None
    assert numeric_targets(np.array([1, True], dtype=object)) is None
    assert numeric_targets(np.array([1.0, None], dtype=object)) is None


def test_missing_rows_are_none_nan_or_blank() -> None:
    targets = np.array(["a", None, float("nan"), "  ", "", 0, "b"], dtype=object)
    assert missing_rows(targets) == [1, 2, 3, 4]
    assert missing_rows(np.array([0.0, 1.0])) == []

"""dataset.py: a Dataset's length and subsets for each shape, and ``split`` into training
and held-out rows, the same ones for the same seed."""

from __future__ import annotations

import numpy as np
import pytest

from aimaas.uploads.dataset import Dataset, split


def table(rows: int) -> Dataset:
    features = np.arange(rows * 2, dtype=np.float64).reshape(rows, 2)
    targets = np.array([f"label{i}" for i in range(rows)])
    return Dataset("table", features, targets=targets, feature_names=["a", "b"], target_name="y")


def test_length_counts_rows_or_texts() -> None:
    assert len(table(7)) == 7
    assert len(Dataset("tensor", np.zeros((5, 8, 8), dtype=np.float32))) == 5
    assert len(Dataset("text", texts=["a", "b", "c"])) == 3
    assert len(Dataset("text", texts=[])) == 0


def test_a_subset_takes_the_rows_in_the_order_given_and_keeps_the_names() -> None:
    dataset = table(5)
    picked = dataset.subset(np.array([3, 0, 3]))
    assert picked.kind == "table" and len(picked) == 3
    assert picked.features is not None and picked.targets is not None
    assert picked.features.tolist() == [[6.0, 7.0], [0.0, 1.0], [6.0, 7.0]]
    assert picked.targets.tolist() == ["label3", "label0", "label3"]
    assert (picked.feature_names, picked.target_name) == (["a", "b"], "y")
    texts = Dataset("text", texts=["x", "y", "z"]).subset(np.array([2, 1]))
    assert texts.texts == ["z", "y"] and texts.features is None and texts.targets is None


def test_split_holds_out_disjoint_rows_in_their_original_order() -> None:
    dataset = Dataset("text", texts=[f"t{i}" for i in range(20)], targets=np.arange(20))
    train, held_out = split(dataset, 0.25, seed=7)
    assert (len(train), len(held_out)) == (15, 5)
    assert train.texts is not None and held_out.texts is not None
    assert set(train.texts).isdisjoint(held_out.texts)
    assert sorted(train.texts + held_out.texts) == sorted(dataset.texts or [])
    assert train.targets is not None and held_out.targets is not None
    assert list(train.targets) == sorted(train.targets)  # rows keep their order
    assert list(held_out.targets) == sorted(held_out.targets)
    assert [f"t{i}" for i in train.targets] == train.texts  # texts and targets stay paired


def test_split_holds_out_at_least_one_row() -> None:
    train, held_out = split(table(10), 0.01, seed=0)
    assert (len(train), len(held_out)) == (9, 1)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_split_refuses_a_fraction_outside_zero_to_one(fraction: float) -> None:
    with pytest.raises(ValueError, match=f"fraction must be between 0 and 1, not {fraction}"):
        split(table(10), fraction, seed=0)


def test_split_refuses_too_few_rows_to_keep_some() -> None:
    with pytest.raises(ValueError, match="1 rows are too few to hold out 50% and keep some"):
        split(table(1), 0.5, seed=0)
    with pytest.raises(ValueError, match="3 rows are too few to hold out 90%"):
        split(table(3), 0.9, seed=0)


def numbered(rows: int) -> Dataset:
    """A table whose targets are its row numbers 0..rows-1."""
    features = np.arange(rows * 2, dtype=np.float64).reshape(rows, 2)
    targets = np.asarray(list(range(rows)), dtype=object)
    return Dataset("table", features=features, targets=targets, feature_names=["a", "b"])


def test_split_holds_out_a_fraction_the_same_way_for_a_seed() -> None:
    dataset = numbered(10)
    train, validation = split(dataset, 0.2, seed=3)
    again, _ = split(dataset, 0.2, seed=3)
    assert (len(train), len(validation)) == (8, 2)
    assert (
        train.targets is not None and validation.targets is not None and again.targets is not None
    )
    assert sorted([*train.targets, *validation.targets]) == list(range(10))
    assert list(train.targets) == list(again.targets)
    with pytest.raises(ValueError):
        split(numbered(2), 0.9, seed=0)

"""encoding.py: fitting an Encoding for each kind and layout, the tensors it gives the
networks, table columns matched by name, the refusals that name the file or the task, and
its JSON form read back strictly."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer  # type: ignore[import-untyped]

from aimaas.errors import InvalidInput
from aimaas.learn import encoding, trainer
from aimaas.learn.encoding import PIXELS, Encoding
from aimaas.learn.preprocessing import MAX_CLASSES, UNKNOWN
from aimaas.uploads.dataset import Dataset
from tests.learn import logistic, never, no_events, one_thread, tables


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


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


def table() -> Dataset:
    features = np.array([[1.0, 100.0], [3.0, 300.0], [5.0, 500.0], [7.0, 700.0]])
    targets = np.array(["b", "a", "b", "a"], dtype=object)
    return Dataset("table", features=features, targets=targets, feature_names=["x", "y"])


def test_a_table_is_standardized_per_column_with_sorted_labels() -> None:
    dataset = table()
    coding = encoding.fit(dataset, layout="flat", task="classification")
    assert coding.item_shape == (2,) and coding.feature_names == ["x", "y"]
    assert coding.labels is not None and coding.labels.classes == ["a", "b"]
    examples = coding.examples(dataset, "classification", param="training_file")
    assert examples.features is not None and examples.targets is not None
    assert examples.features.dtype == torch.float32 and examples.features.shape == (4, 2)
    assert torch.allclose(examples.features[:, 0], examples.features[:, 1])  # same z-scores
    assert float(examples.features.mean()) == pytest.approx(0.0, abs=1e-6)
    assert examples.targets.tolist() == [1, 0, 1, 0]


def test_a_regression_target_is_standardized_and_restorable() -> None:
    dataset = Dataset("table", features=np.zeros((3, 1)), targets=np.array([10.0, 20.0, 30.0]))
    coding = encoding.fit(dataset, layout="flat", task="regression")
    assert coding.labels is None and coding.target is not None
    examples = coding.examples(dataset, "regression", param="training_file")
    assert examples.targets is not None and examples.targets.dtype == torch.float32
    restored = coding.target.restore(examples.targets.numpy())
    assert restored.tolist() == pytest.approx([10.0, 20.0, 30.0], rel=1e-6)


def test_shapes_per_layout() -> None:
    grids = Dataset("tensor", features=np.arange(2 * 4 * 5, dtype=np.float32).reshape(2, 4, 5))
    flat = encoding.fit(grids, layout="flat", task="embedding")
    assert flat.features(grids.features).shape == (2, 20)  # type: ignore[arg-type]
    assert flat.scaler is not None and flat.scaler.mean.shape == (20,)
    grid = encoding.fit(grids, layout="grid", task="embedding")
    assert grid.features(grids.features).shape == (2, 1, 4, 5)  # type: ignore[arg-type]
    assert grid.scaler is not None and grid.scaler.mean.shape == ()  # one scalar
    steps = Dataset("tensor", features=np.ones((3, 6), dtype=np.float32))
    sequence = encoding.fit(steps, layout="sequence", task="embedding")
    assert sequence.features(steps.features).shape == (3, 6, 1)  # type: ignore[arg-type]
    cube = Dataset("tensor", features=np.ones((3, 6, 2), dtype=np.float32))
    assert encoding.fit(cube, layout="sequence", task="embedding").features(
        cube.features  # type: ignore[arg-type]
    ).shape == (3, 6, 2)


def test_images_are_scaled_to_zero_one_channels_first() -> None:
    pixels = np.zeros((2, 3, 4, 3), dtype=np.uint8)
    pixels[0, 1, 2] = [255, 0, 51]
    images = Dataset("images", features=pixels, targets=np.array([0, 1]))
    coding = encoding.fit(images, layout="grid", task="classification")
    assert coding.scaler is PIXELS and coding.image_mode == "RGB"
    out = coding.features(pixels)
    assert out.shape == (2, 3, 3, 4) and out.is_contiguous()
    assert out[0, :, 1, 2].tolist() == pytest.approx([1.0, 0.0, 0.2])
    gray = Dataset("images", features=np.zeros((1, 2, 2, 1), np.uint8), targets=np.array([0]))
    assert encoding.fit(gray, layout="grid", task="embedding").image_mode == "L"


def test_texts_become_token_ids_and_word2vec_pairs() -> None:
    texts = Dataset("text", texts=["a b a", "c", "b zzz"], targets=np.array([0, 1, 0]))
    coding = encoding.fit(texts, layout="tokens", task="classification", max_vocab=3, max_length=4)
    assert coding.item_shape == () and coding.scaler is None
    assert coding.tokenizer is not None and coding.tokenizer.vocabulary[2:] == ["a", "b", "c"]
    examples = coding.examples(texts, "classification", param="training_file")
    assert examples.tokens is not None
    # zzz is past max_vocab
    assert [t.tolist() for t in examples.tokens] == [[2, 3, 2], [4], [3, UNKNOWN]]
    plain = Dataset("text", texts=["a b zzz a", "c"])
    unsupervised = encoding.fit(
        plain, layout="tokens", task="embedding", max_vocab=10, max_length=10
    )
    assert unsupervised.tokens("zzz unknown").tolist() == [5, UNKNOWN]
    pairs = unsupervised.examples(plain, "embedding", param="training_file", window=1)
    assert pairs.features is not None and pairs.targets is None
    # "a b zzz a" -> ids [2, 3, 5, 2]: 3 pairs each way; "c" alone has none
    assert sorted(map(tuple, pairs.features.tolist())) == sorted(
        [(2, 3), (3, 5), (5, 2), (3, 2), (5, 3), (2, 5)]
    )
    assert pairs.noise is not None
    assert float(pairs.noise.sum()) == pytest.approx(1.0, abs=1e-6)
    assert pairs.noise[:2].tolist() == [0.0, 0.0]  # padding and unknown are never drawn


def test_items_of_another_kind_or_shape_are_refused_naming_the_file() -> None:
    coding = encoding.fit(table(), layout="flat", task="classification")
    wide = Dataset("table", features=np.zeros((2, 3)), targets=np.array(["a", "b"]))
    with pytest.raises(InvalidInput) as caught:
        coding.examples(wide, "classification", param="validation_file")
    assert caught.value.param == "validation_file"
    assert caught.value.message == (
        "table items of shape [3] do not match the training data (table items of shape [2])."
    )
    texts = Dataset("text", texts=["x"], targets=np.array(["a"]))
    with pytest.raises(InvalidInput, match="text items of shape None do not match"):
        coding.examples(texts, "classification", param="validation_file")


def test_a_column_set_that_differs_lists_what_is_missing_and_unknown() -> None:
    coding = encoding.fit(table(), layout="flat", task="classification")
    other = Dataset(
        "table", features=np.zeros((1, 2)), targets=np.array(["a"]), feature_names=["x", "z"]
    )
    with pytest.raises(InvalidInput) as caught:
        coding.examples(other, "classification", param="validation_file")
    assert caught.value.message == (
        "The columns differ from the training data's: missing ['y'], unknown ['z']."
    )


def test_too_many_classes_or_text_regression_targets_name_the_task() -> None:
    many = Dataset(
        "table", features=np.zeros((MAX_CLASSES + 1, 1)), targets=np.arange(MAX_CLASSES + 1)
    )
    with pytest.raises(InvalidInput) as caught:
        encoding.fit(many, layout="flat", task="classification")
    assert caught.value.param == "hyperparameters.task"
    assert caught.value.message.startswith(f"{MAX_CLASSES + 1} classes is more than {MAX_CLASSES}")
    words = Dataset("table", features=np.zeros((2, 1)), targets=np.array(["a", "b"], dtype=object))
    with pytest.raises(InvalidInput) as caught:
        encoding.fit(words, layout="flat", task="regression")
    assert caught.value.param == "hyperparameters.task"
    assert caught.value.message.startswith("Regression targets must all be numbers")


def test_validation_regression_targets_must_be_numbers() -> None:
    train = Dataset("table", features=np.zeros((2, 1)), targets=np.array([1.0, 2.0]))
    coding = encoding.fit(train, layout="flat", task="regression")
    bad = Dataset("table", features=np.zeros((1, 1)), targets=np.array(["x"], dtype=object))
    with pytest.raises(InvalidInput) as caught:
        coding.examples(bad, "regression", param="validation_file")
    assert (caught.value.param, caught.value.message) == (
        "validation_file",
        "Regression targets must all be numbers.",
    )


def round_trip(coding: Encoding) -> Encoding:
    labels = None if coding.labels is None else coding.labels.classes
    return Encoding.from_json(coding.to_json(), labels)


def test_an_encoding_round_trips_through_json() -> None:
    coding = encoding.fit(table(), layout="flat", task="classification")
    again = round_trip(coding)
    assert again.to_json() == coding.to_json()
    assert again.labels is not None and again.labels.classes == ["a", "b"]
    raw = np.array([[2.0, 50.0]])
    assert torch.equal(again.features(raw), coding.features(raw))
    texts = Dataset("text", texts=["one two"], targets=np.array([1.5]))
    text_coding = encoding.fit(texts, layout="tokens", task="regression", max_vocab=5)
    assert round_trip(text_coding) == text_coding


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"kind": "audio"}, "preprocessing kind or layout"),
        ({"layout": "tokens"}, "layout"),
        ({"item_shape": [2, 0]}, "item_shape"),
        ({"item_shape": [1, 1, 1, 1, 2]}, "preprocessing.item_shape"),
        ({"item_shape": [True, 2]}, "item_shape"),
        ({"feature_names": ["x"]}, "preprocessing.feature_names"),
        ({"feature_names": ["x", 2]}, "preprocessing.feature_names"),
        ({"standardize": {"mean": [0.0], "std": [1.0]}}, "standardize shapes"),
    ],
)
def test_a_bad_preprocessing_section_is_refused(change: dict[str, Any], says: str) -> None:
    data = encoding.fit(table(), layout="flat", task="classification").to_json() | change
    with pytest.raises(ValueError, match=f"model spec: invalid {says}"):
        Encoding.from_json(data, ["a", "b"])

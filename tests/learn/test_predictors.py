"""Serving: artifacts round-trip to the in-memory model's outputs, requests are checked row
by row, and padding never leaks between rows."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_iris

from aimaas.errors import InvalidInput
from aimaas.learn import architectures, artifacts, specs, trainer
from aimaas.learn.servable import Predictor, TrainedModel
from aimaas.uploads.dataset import Dataset
from tests.learn import cluster_corpus, iris, never, no_events, one_thread, trained


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


@pytest.fixture(scope="module")
def iris_model() -> tuple[TrainedModel, Dataset]:
    return iris()


@pytest.fixture(scope="module")
def word2vec() -> Predictor:
    corpus, _ = cluster_corpus(sentences=200)
    model = trainer.train(
        "word2vec",
        corpus,
        None,
        {"epochs": 2, "embedding_dim": 16},
        seed=0,
        checkpoint_dir=None,
        on_event=no_events,
        should_stop=never,
    )
    return artifacts.load_predictor(*artifacts.save(model))


def in_memory(model: TrainedModel, dataset: Dataset) -> np.ndarray:
    """The trained network's raw outputs, straight from its tensors and the training-time
    encoding, with no bytes and no predictor in between."""
    spec = specs.read(json.dumps(model.spec).encode())
    network = architectures.build(spec.algorithm, spec.config)
    network.load_state_dict(model.weights)
    examples = spec.encoding.examples(dataset, spec.task, param="test")
    batch = examples.batch(torch.arange(len(examples)))
    with torch.inference_mode():
        out: torch.Tensor = network.eval()(batch.inputs, batch.lengths)
    return out.numpy()


def served_outputs(predictor: Predictor, dataset: Dataset) -> list[dict[str, np.ndarray]]:
    if dataset.kind == "text":
        return predictor.run(predictor.prepare_instances(list(dataset.texts or [])))
    assert dataset.features is not None
    return predictor.run(predictor.prepare_v2({"input": dataset.features.astype(np.float32)}))


@pytest.mark.parametrize(
    "name", ["cnn-digits", "lstm-digits", "transformer-digits", "gru-topics", "transformer-topics"]
)
def test_the_saved_model_answers_like_the_in_memory_one(name: str) -> None:
    model, test = trained(name)
    predictor = artifacts.load_predictor(*artifacts.save(model))
    probabilities = np.stack([o["probabilities"] for o in served_outputs(predictor, test)])
    expected = torch.softmax(torch.from_numpy(in_memory(model, test)), dim=1).numpy()
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)


def test_table_models_round_trip_and_accept_rows_by_column(
    iris_model: tuple[TrainedModel, Dataset],
) -> None:
    model, dataset = iris_model
    predictor = artifacts.load_predictor(*artifacts.save(model))
    assert dataset.features is not None and dataset.feature_names is not None
    rows = [
        dict(zip(dataset.feature_names, row.tolist(), strict=True)) for row in dataset.features[:5]
    ]
    by_column = predictor.run(predictor.prepare_instances(rows))
    as_lists = predictor.run(
        predictor.prepare_instances([r.tolist() for r in dataset.features[:5]])
    )
    expected = torch.softmax(torch.from_numpy(in_memory(model, dataset.subset(np.arange(5)))), 1)
    for a, b, p in zip(by_column, as_lists, expected.numpy(), strict=True):
        np.testing.assert_allclose(a["probabilities"], p, atol=1e-6)
        np.testing.assert_array_equal(a["probabilities"], b["probabilities"])
    described = predictor.describe(by_column[0])
    assert described["label"] == "setosa" and set(described["probabilities"]) == set(
        predictor.labels or []
    )


def test_regressors_answer_in_the_targets_units() -> None:
    data = load_iris()
    dataset = Dataset(
        "table", features=data.data[:, :3], targets=data.data[:, 3], feature_names=["a", "b", "c"]
    )
    model = trainer.train(
        "linear_regression",
        dataset,
        None,
        {},
        seed=0,
        checkpoint_dir=None,
        on_event=no_events,
        should_stop=never,
    )
    predictor = artifacts.load_predictor(*artifacts.save(model))
    assert predictor.task == "regression" and predictor.labels is None
    outputs = served_outputs(predictor, dataset)
    predicted = np.asarray([o["prediction"] for o in outputs])
    assert np.abs(predicted - data.data[:, 3]).mean() < 0.2  # petal width in cm, ~0.8 spread
    assert predictor.describe(outputs[0]) == {"value": pytest.approx(float(predicted[0]))}


def test_images_are_served_from_png_like_from_pixels() -> None:
    model, test = trained("cnn-digits")
    predictor = artifacts.load_predictor(*artifacts.save(model))
    assert test.features is not None
    pixels = test.features[:3]
    encoded = []
    for image in pixels:
        buffer = io.BytesIO()
        Image.fromarray(image[:, :, 0], mode="L").save(buffer, format="PNG")
        encoded.append(base64.b64encode(buffer.getvalue()).decode())
    from_png = predictor.run(
        predictor.prepare_instances([encoded[0], {"b64": encoded[1]}, encoded[2]])
    )
    from_pixels = predictor.run(predictor.prepare_v2({"input": pixels.astype(np.float32)}))
    for a, b in zip(from_png, from_pixels, strict=True):
        np.testing.assert_array_equal(a["probabilities"], b["probabilities"])
    assert predictor.signature.inputs[0].shape == [-1, 8, 8, 1]


@pytest.mark.parametrize("name", ["lstm-topics", "gru-topics", "transformer-topics"])
def test_padding_does_not_change_an_items_output(name: str) -> None:
    model, _ = trained(name)
    predictor = artifacts.load_predictor(*artifacts.save(model))
    short = "the team won"
    longer = ["pasta " * 30, "the laptop server code and network " * 5]
    [alone] = predictor.run(predictor.prepare_instances([short]))
    batched = predictor.run(predictor.prepare_instances([longer[0], short, longer[1]]))
    np.testing.assert_allclose(batched[1]["probabilities"], alone["probabilities"], atol=1e-5)
    assert not np.allclose(batched[0]["probabilities"], alone["probabilities"], atol=1e-3)


def test_word2vec_embeds_texts_by_their_known_words(word2vec: Predictor) -> None:
    [alone] = word2vec.run(word2vec.prepare_instances(["w0x1 w0x2"]))
    batch = word2vec.run(
        word2vec.prepare_instances(["w1x1 " * 20, "w0x1 unknown w0x2", ["w0x1", "w0x2"]])
    )
    np.testing.assert_allclose(batch[1]["embedding"], alone["embedding"], atol=1e-6)
    np.testing.assert_allclose(batch[2]["embedding"], alone["embedding"], atol=1e-6)
    with pytest.raises(InvalidInput) as caught:
        word2vec.prepare_instances(["w0x1", "nothing known here"])
    assert caught.value.param == "instances[1]"


@pytest.mark.parametrize(
    ("instance", "says"),
    [
        ({"sepal length": 1.0}, "missing columns"),
        (
            {"sepal length": 1, "sepal width": 1, "petal length": 1, "petal width": 1, "x": 1},
            "unknown columns",
        ),
        (
            {"sepal length": "1", "sepal width": 1, "petal length": 1, "petal width": 1},
            "finite number",
        ),
        (
            {"sepal length": True, "sepal width": 1, "petal length": 1, "petal width": 1},
            "finite number",
        ),
        ([1.0, 2.0, 3.0], "shape [3]"),
        ([1.0, 2.0, 3.0, "4"], "numbers"),
        ([1.0, 2.0, 3.0, float("nan")], "NaN"),
        ("1,2,3,4", "send an object"),
    ],
)
def test_a_bad_table_row_names_its_index(
    iris_model: tuple[TrainedModel, Dataset], instance: Any, says: str
) -> None:
    predictor = artifacts.load_predictor(*artifacts.save(iris_model[0]))
    good = [5.1, 3.5, 1.4, 0.2]
    with pytest.raises(InvalidInput) as caught:
        predictor.prepare_instances([good, good, instance])
    assert caught.value.param == "instances[2]"
    assert says in caught.value.message


@pytest.mark.parametrize(
    ("instance", "says"),
    [
        ("not base64!", "base64"),
        ({"b64": "aGVsbG8="}, "PNG or JPEG"),
        ({"data": "x"}, "b64"),
        ([[0]], "shape"),
    ],
)
def test_a_bad_image_names_its_index(instance: Any, says: str) -> None:
    predictor = artifacts.load_predictor(*artifacts.save(trained("cnn-digits")[0]))
    with pytest.raises(InvalidInput) as caught:
        predictor.prepare_instances([np.zeros((8, 8, 1)).tolist(), instance])
    assert caught.value.param == "instances[1]"
    assert says in caught.value.message


def test_v2_inputs_are_checked_by_name_and_shape() -> None:
    predictor = artifacts.load_predictor(*artifacts.save(trained("lstm-digits")[0]))
    with pytest.raises(InvalidInput) as caught:
        predictor.prepare_v2({"pixels": np.zeros((1, 8, 8), np.float32)})
    assert caught.value.param == "pixels"
    with pytest.raises(InvalidInput) as caught:
        predictor.prepare_v2({"input": np.zeros((1, 8, 7), np.float32)})
    assert caught.value.param == "input" and "[-1, 8, 8]" in caught.value.message
    text = artifacts.load_predictor(*artifacts.save(trained("gru-topics")[0]))
    with pytest.raises(InvalidInput) as caught:
        text.prepare_v2({"text": np.asarray(["fine", 3], dtype=object)})
    assert caught.value.param == "text"
    assert len(text.prepare_v2({"text": np.asarray(["fine", b"bytes too"], dtype=object)})) == 2


def small(kind: str, shape: tuple[int, ...], rows: int = 120) -> Dataset:
    rng = np.random.default_rng(0)
    targets = np.arange(rows) % 3
    if kind == "images":
        features: np.ndarray = rng.integers(0, 256, (rows, *shape), dtype=np.uint8)
    else:
        features = rng.normal(size=(rows, *shape)).astype(np.float32)
    return Dataset(kind, features=features, targets=targets)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("algorithm", "kind", "shape"),
    [
        ("linear_regression", "tensor", (3, 2)),
        ("logistic_regression", "tensor", (3, 2)),
        ("mlp", "tensor", (4, 4)),
        ("cnn", "tensor", (6, 6)),
        ("cnn", "tensor", (2, 6, 5)),
        ("cnn", "images", (9, 7, 3)),
        ("rnn", "tensor", (5,)),
        ("rnn", "tensor", (5, 3)),
        ("transformer", "tensor", (5,)),
        ("transformer", "tensor", (5, 3)),
    ],
)
def test_every_algorithm_reads_each_shape_it_takes(
    algorithm: str, kind: str, shape: tuple[int, ...]
) -> None:
    dataset = small(kind, shape)
    if algorithm == "linear_regression":
        dataset = Dataset(
            kind, features=dataset.features, targets=np.linspace(0.5, 3, len(dataset))
        )
    params = {} if algorithm.endswith("regression") else {"epochs": 2}
    model = trainer.train(
        algorithm,
        dataset,
        None,
        params,
        seed=0,
        checkpoint_dir=None,
        on_event=no_events,
        should_stop=never,
    )
    predictor = artifacts.load_predictor(*artifacts.save(model))
    assert predictor.signature.inputs[0].shape == [-1, *shape]
    outputs = served_outputs(predictor, dataset)
    expected = in_memory(model, dataset)
    if predictor.task == "classification":
        got = np.stack([o["probabilities"] for o in outputs])
        np.testing.assert_allclose(
            got, torch.softmax(torch.from_numpy(expected), 1).numpy(), atol=1e-5
        )
    else:
        spec = specs.read(json.dumps(model.spec).encode())
        assert spec.encoding.target is not None
        got = np.asarray([o["prediction"] for o in outputs])
        np.testing.assert_allclose(got, spec.encoding.target.restore(expected[:, 0]), rtol=1e-5)

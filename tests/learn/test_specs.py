"""specs.py: a ModelDescription's signature per task and kind, its JSON form, and ``read``
refusing every part of model.json that does not fit, the signature always derived again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch

from aimaas.learn import artifacts, encoding, specs
from aimaas.learn.models.linear import LinearConfig
from aimaas.learn.models.logistic import LogisticConfig
from aimaas.learn.models.word2vec import Word2VecConfig
from aimaas.learn.servable import TensorSpec
from aimaas.learn.specs import ModelDescription
from aimaas.uploads.dataset import Dataset
from tests.learn import one_thread, tampered, trained


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


def test_a_vocabulary_that_does_not_fit_the_embedding_is_refused() -> None:
    model, _ = trained("gru-topics")

    def grow(spec: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        spec["preprocessing"]["tokenizer"]["vocabulary"].append("newword")

    with pytest.raises(ValueError, match="vocab_size"):
        artifacts.load_predictor(*tampered(model, grow))


def classifier(labels: list[Any]) -> ModelDescription:
    dataset = Dataset("table", features=np.zeros((len(labels), 3)), targets=np.array(labels))
    coding = encoding.fit(dataset, layout="flat", task="classification")
    classes = len(set(labels))
    config = LogisticConfig(n_features=3, n_classes=classes)
    return ModelDescription("logistic_regression", "classification", config, coding, classes)


def regressor() -> ModelDescription:
    dataset = Dataset("tensor", features=np.zeros((2, 4, 2)), targets=np.array([1.0, 2.0]))
    coding = encoding.fit(dataset, layout="flat", task="regression")
    return ModelDescription("linear_regression", "regression", LinearConfig(8), coding, 1)


def embedder() -> ModelDescription:
    texts = Dataset("text", texts=["a b c"])
    coding = encoding.fit(texts, layout="tokens", task="embedding", max_length=8, max_vocab=10)
    return ModelDescription("word2vec", "embedding", Word2VecConfig(5, 16), coding, 16)


def test_the_signature_follows_the_task_and_kind() -> None:
    named = classifier(["b", "a", "b"]).signature
    assert named.inputs == [TensorSpec("input", "FP32", [-1, 3])]
    assert named.outputs == [
        TensorSpec("probabilities", "FP32", [-1, 2]),
        TensorSpec("label", "BYTES", [-1]),
    ]
    assert classifier([0, 1, 2]).signature.outputs[1] == TensorSpec("label", "INT64", [-1])
    assert classifier([0.5, 1.0]).signature.outputs[1].datatype == "BYTES"  # not all integers
    regression = regressor().signature
    assert regression.inputs == [TensorSpec("input", "FP32", [-1, 4, 2])]
    assert regression.outputs == [TensorSpec("prediction", "FP32", [-1])]
    embedding = embedder().signature
    assert embedding.inputs == [TensorSpec("text", "BYTES", [-1])]
    assert embedding.outputs == [TensorSpec("embedding", "FP32", [-1, 16])]


@pytest.mark.parametrize("make", [lambda: classifier(["x", "y"]), regressor, embedder])
def test_a_description_reads_back_from_its_json(make: Any) -> None:
    description: ModelDescription = make()
    data = description.to_json(training={"seed": 1})
    assert data["format"] == specs.FORMAT and data["training"] == {"seed": 1}
    assert data["signature"]["outputs"] == [vars(t) for t in description.signature.outputs]
    again = specs.read(json.dumps(data).encode())
    assert (again.algorithm, again.task, again.output_size) == (
        description.algorithm,
        description.task,
        description.output_size,
    )
    assert again.config == description.config
    assert again.encoding.to_json() == description.encoding.to_json()


def test_the_stored_signature_is_never_trusted() -> None:
    data = regressor().to_json()
    data["signature"] = {"inputs": [], "outputs": [{"name": "x", "datatype": "BOOL", "shape": []}]}
    again = specs.read(json.dumps(data).encode())
    assert again.signature == regressor().signature


def broken(description: ModelDescription, **changes: Any) -> bytes:
    return json.dumps(description.to_json() | changes).encode()


@pytest.mark.parametrize(
    ("spec_json", "says"),
    [
        (b"\xff", "model spec is not JSON"),
        (b"[1]", "format must be 'aimaas.learn/1'"),
        (broken(regressor(), format="aimaas.learn/2"), "format must be"),
        (broken(regressor(), algorithm="svm"), "unknown algorithm 'svm'"),
        (broken(regressor(), task="ranking"), "unknown task 'ranking'"),
        (broken(regressor(), output_size=0), "invalid output_size"),
        (broken(regressor(), output_size=True), "invalid output_size"),
        (broken(regressor(), output_size=1.0), "invalid output_size"),
        (broken(regressor(), task="classification"), "labels do not match the task"),
        (broken(classifier(["a", "b"]), output_size=3), "labels do not match the task"),
        (broken(classifier(["a", "b"]), labels=None), "labels do not match the task"),
        (broken(embedder(), task="regression"), "target scaling does not match the task"),
        (broken(embedder(), config={"vocab_size": 9, "embedding_dim": 16}), "vocab_size"),
        (broken(regressor(), config={"n_features": -1}), "config.n_features"),
    ],
)
def test_read_names_the_first_part_that_is_wrong(spec_json: bytes, says: str) -> None:
    with pytest.raises(ValueError) as caught:
        specs.read(spec_json)
    assert says in str(caught.value)

"""artifacts.py: a trained model saved as safetensors and JSON, loaded back as a predictor;
non-finite metrics become null, and tampered or garbage files are refused."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load

from aimaas.learn import artifacts
from aimaas.learn.predictors import ModelPredictor
from aimaas.learn.servable import TrainedModel
from aimaas.uploads.dataset import Dataset
from tests.learn import iris, one_thread, tampered


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


@pytest.fixture(scope="module")
def iris_model() -> tuple[TrainedModel, Dataset]:
    return iris()


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda s, t: s.update(algorithm="os.system"), "unknown algorithm"),
        (lambda s, t: s.update(format="pickle"), "format"),
        (lambda s, t: s["config"].update(hidden_sizes=[64, 64]), "weights do not match"),
        (lambda s, t: s["config"].update(extra=1), "exactly the fields"),
        (lambda s, t: s["config"].update(n_features="4"), "config.n_features"),
        (lambda s, t: s.update(labels=["a", "b"]), "labels"),
        (lambda s, t: s["preprocessing"].update(item_shape=[5]), "feature_names"),
        (lambda s, t: t.pop("head.bias"), "missing ['head.bias']"),
        (lambda s, t: t.update({"head.bias": torch.zeros(4)}), "head.bias"),
        (lambda s, t: t.update({"head.bias": torch.zeros(3, dtype=torch.float64)}), "float64"),
    ],
)
def test_a_tampered_artifact_is_refused(
    iris_model: tuple[TrainedModel, Dataset], change: Any, says: str
) -> None:
    with pytest.raises(ValueError, match=None) as caught:
        artifacts.load_predictor(*tampered(iris_model[0], change))
    assert says in str(caught.value)


def test_garbage_bytes_are_refused(iris_model: tuple[TrainedModel, Dataset]) -> None:
    weights, spec_json = artifacts.save(iris_model[0])
    with pytest.raises(ValueError, match="safetensors"):
        artifacts.load_predictor(b"\x80\x04pickle", spec_json)
    with pytest.raises(ValueError, match="not JSON"):
        artifacts.load_predictor(weights, b"{")


def test_the_two_files_hold_the_tensors_the_spec_and_the_metrics(
    iris_model: tuple[TrainedModel, Dataset],
) -> None:
    model, _ = iris_model
    weights, spec_json = artifacts.save(model)
    tensors = load(weights)
    assert tensors.keys() == model.weights.keys()
    assert all(torch.equal(tensors[k], model.weights[k]) for k in tensors)
    document = json.loads(spec_json)
    assert document == {**model.spec, "metrics": model.metrics}
    assert document["format"] == "aimaas.learn/1" and document["algorithm"] == "mlp"


def test_non_finite_metrics_are_saved_as_null(iris_model: tuple[TrainedModel, Dataset]) -> None:
    model, _ = iris_model
    odd = TrainedModel(
        weights=model.weights,
        spec=model.spec,
        metrics={"val_r2": float("nan"), "loss": math.inf, "epochs": 3.0},
    )
    _, spec_json = artifacts.save(odd)
    assert b"NaN" not in spec_json and b"Infinity" not in spec_json
    assert json.loads(spec_json)["metrics"] == {"val_r2": None, "loss": None, "epochs": 3.0}


def test_a_loaded_model_answers_like_the_one_it_was_saved_from(
    iris_model: tuple[TrainedModel, Dataset],
) -> None:
    model, dataset = iris_model
    predictor = artifacts.load_predictor(*artifacts.save(model))
    assert isinstance(predictor, ModelPredictor)
    assert (predictor.algorithm, predictor.task) == ("mlp", "classification")
    assert predictor.labels == ["setosa", "versicolor", "virginica"]
    assert dataset.features is not None
    items = predictor.prepare_v2({"input": dataset.features[:5].astype(np.float32)})
    again = artifacts.load_predictor(*artifacts.save(model))
    first, second = predictor.run(items), again.run(items)
    for a, b in zip(first, second, strict=True):
        assert np.array_equal(a["probabilities"], b["probabilities"])


def test_an_unknown_optimization_section_is_refused(
    iris_model: tuple[TrainedModel, Dataset],
) -> None:
    def optimized(spec: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        spec["optimization"] = {"method": "distill"}

    with pytest.raises(ValueError, match=r"optimization\.method is unknown"):
        artifacts.load_predictor(*tampered(iris_model[0], optimized))

"""optimized.py: a model.json with an ``optimization`` section loads the network its method
describes (plain pruned weights, int8, or an ONNX graph) behind the same ModelPredictor,
and unknown methods, levels or weights are refused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import onnx
import onnx.numpy_helper
import pytest
import torch
from onnx import TensorProto, helper
from safetensors.torch import save

from aimaas.learn import encoding
from aimaas.learn.models.mlp import MLP, MLPConfig
from aimaas.learn.optimized import METHODS, load_optimized
from aimaas.learn.predictors import ModelPredictor
from aimaas.learn.specs import ModelDescription
from aimaas.optimize.quantize import quantize_dynamic
from aimaas.uploads.dataset import Dataset
from tests.learn import one_thread

CONFIG = MLPConfig(n_features=2, hidden_sizes=(), n_outputs=2, dropout=0.0)


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


def spec() -> ModelDescription:
    dataset = Dataset(
        "table", features=np.array([[0.0, 0.0], [2.0, 2.0]]), targets=np.array([0, 1])
    )
    coding = encoding.fit(dataset, layout="flat", task="classification")
    return ModelDescription("mlp", "classification", CONFIG, coding, 2)


def network() -> MLP:
    torch.manual_seed(0)
    return MLP(CONFIG).eval()


def probabilities(predictor: Any, rows: list[list[float]]) -> np.ndarray:
    items = predictor.prepare_v2({"input": np.asarray(rows, dtype=np.float32)})
    return np.stack([output["probabilities"] for output in predictor.run(items)])


ROWS = [[0.0, 0.0], [2.0, 1.0], [-1.0, 3.0]]


def test_the_methods_are_the_five_aimaas_optimize_makes() -> None:
    assert METHODS == (
        "quantize_dynamic",
        "quantize_static",
        "prune",
        "prune_structured",
        "export_onnx",
    )


@pytest.mark.parametrize("method", ["prune", "prune_structured"])
def test_pruned_weights_are_plain_tensors(method: str) -> None:
    weights = save({k: v.contiguous() for k, v in network().state_dict().items()})
    predictor = load_optimized(spec(), weights, {"method": method})
    assert isinstance(predictor, ModelPredictor)
    reference = ModelPredictor(spec(), network())
    assert np.allclose(probabilities(predictor, ROWS), probabilities(reference, ROWS), atol=1e-7)


def test_int8_weights_are_loaded_as_the_quantized_network() -> None:
    made = quantize_dynamic(network())
    section = {"method": "quantize_dynamic", "quantization": made.section}
    predictor = load_optimized(spec(), save(made.tensors), section)
    expected = ModelPredictor(spec(), made.network)
    assert np.array_equal(probabilities(predictor, ROWS), probabilities(expected, ROWS))
    with pytest.raises(ValueError, match=r"optimization\.quantization must be an object"):
        load_optimized(spec(), save(made.tensors), {"method": "quantize_dynamic"})


def graph(model: MLP) -> bytes:
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    onnx_graph = helper.make_graph(
        [helper.make_node("Gemm", ["input", "w", "b"], ["output"], transB=1)],
        "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 2])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 2])],
        [
            onnx.numpy_helper.from_array(state["head.weight"], "w"),
            onnx.numpy_helper.from_array(state["head.bias"], "b"),
        ],
    )
    model_proto = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", 18)])
    return bytes(model_proto.SerializeToString())


def test_an_onnx_graph_is_served_by_onnxruntime() -> None:
    section = {"method": "export_onnx", "graph_optimization": "basic"}
    predictor = load_optimized(spec(), graph(network()), section)
    assert isinstance(predictor, ModelPredictor)
    reference = ModelPredictor(spec(), network())
    assert np.allclose(probabilities(predictor, ROWS), probabilities(reference, ROWS), atol=1e-6)
    default = load_optimized(spec(), graph(network()), {"method": "export_onnx"})  # "all"
    assert np.allclose(probabilities(default, ROWS), probabilities(reference, ROWS), atol=1e-6)


@pytest.mark.parametrize(
    ("section", "says"),
    [
        (None, "optimization.method is unknown"),
        ("prune", "optimization.method is unknown"),
        ({"method": "distill"}, "optimization.method is unknown"),
        ({"method": "export_onnx", "graph_optimization": "max"}, "graph_optimization"),
    ],
)
def test_unknown_sections_are_refused(section: Any, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        load_optimized(spec(), graph(network()), section)


def test_weights_that_are_no_safetensors_are_refused() -> None:
    with pytest.raises(ValueError, match="model weights are not a safetensors file"):
        load_optimized(spec(), b"\x80\x04not safetensors", {"method": "prune"})

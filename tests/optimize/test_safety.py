"""Optimized artifacts are data: a tampered quantized file or an ONNX graph that reaches
outside itself is refused with a ValueError naming the problem, before anything runs; and
the options and methods a request names are checked before any work starts."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import onnx
import pytest
import torch
from onnx import TensorProto, helper
from safetensors.torch import load, save

from aimaas.learn import artifacts
from tests.optimize import child, parent

CNN = "cnn-digits"
Change = Callable[[dict[str, Any], dict[str, torch.Tensor]], None]


def tampered(method: str, change: Change) -> tuple[bytes, bytes]:
    artifact = child(CNN, method)
    document = json.loads(artifact.description)
    tensors = load(artifact.weights)
    change(document, tensors)
    return save(tensors), json.dumps(document).encode()


def _drop(key: str) -> Change:
    def change(_document: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        del tensors[key]

    return change


def _set(key: str, value: torch.Tensor) -> Change:
    return lambda _d, t: t.__setitem__(key, value)


def _unlist(path: str) -> Change:
    def change(document: dict[str, Any], _tensors: dict[str, torch.Tensor]) -> None:
        del document["optimization"]["quantization"]["modules"][path]

    return change


@pytest.mark.parametrize(
    ("method", "change", "says"),
    [
        ("quantize_static", _drop("head.1.weight_scale"), "head.1.weight"),
        ("quantize_static", _drop("blocks.0.conv.output_zero_point"), "output_scale"),
        ("quantize_static", _set("input.output_zero_point", torch.tensor(999)), "0..255"),
        (
            "quantize_static",
            _set("head.4.weight_zero_point", torch.full((10,), 200, dtype=torch.int64)),
            "-128..127",
        ),
        (
            "quantize_static",
            _set("head.4.weight_scale", -torch.ones(10, dtype=torch.float64)),
            "positive",
        ),
        (
            "quantize_static",
            _set("head.4.weight_scale", torch.ones(3, dtype=torch.float64)),
            "scales and zero points do not match",
        ),
        ("quantize_static", _set("head.4.weight", torch.zeros(10, 128)), "int8"),
        ("quantize_dynamic", _unlist("head.4"), "not listed"),
        (
            "quantize_dynamic",
            _set("head.1.weight", torch.zeros(3, 3, dtype=torch.int8)),
            "is torch",
        ),
        ("quantize_dynamic", _set("surprise", torch.zeros(1)), "unexpected"),
        (
            "quantize_dynamic",
            lambda d, _t: d["optimization"]["quantization"].update(scheme="float4"),
            "scheme",
        ),
        ("prune", lambda d, _t: d["optimization"].update(method="magic"), "method"),
    ],
)
def test_a_tampered_optimized_artifact_is_refused(method: str, change: Change, says: str) -> None:
    weights, spec_json = tampered(method, change)
    with pytest.raises(ValueError, match=says):
        artifacts.load_predictor(weights, spec_json)


def _graph(**changes: Any) -> bytes:
    """A one-node ONNX graph (input [N, 1, 8, 8] -> output [N, 10]) with ``changes``."""
    weight = helper.make_tensor("w", TensorProto.FLOAT, [64, 10], [0.0] * 640)
    if changes.get("external"):
        weight = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[64, 10])
        weight.data_location = TensorProto.EXTERNAL
        weight.external_data.add(key="location", value="/etc/passwd")
    classes = changes.get("k", 10)
    nodes = [
        helper.make_node("Flatten", ["input"], ["flat"]),
        helper.make_node("MatMul", ["flat", "w"], ["output"], domain=changes.get("domain", "")),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 1, 8, 8])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", classes])],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    return bytes(model.SerializeToString())


def _onnx_spec() -> bytes:
    document = json.loads(child(CNN, "export_onnx").description)
    return json.dumps(document).encode()


def test_a_clean_handmade_graph_loads_and_an_outward_one_does_not() -> None:
    predictor = artifacts.load_predictor(_graph(), _onnx_spec())
    assert predictor.signature.outputs[0].name == "probabilities"
    for changes, says in (
        ({"external": True}, "external data"),
        ({"domain": "com.example.evil"}, "domain"),
        ({"k": 7}, "takes and gives"),
    ):
        with pytest.raises(ValueError, match=says):
            artifacts.load_predictor(_graph(**changes), _onnx_spec())
    with pytest.raises(ValueError, match="not an ONNX model"):
        artifacts.load_predictor(b"\x08\x07garbage" * 10, _onnx_spec())
    weights, _ = parent(CNN)  # safetensors bytes where a graph belongs
    with pytest.raises(ValueError):
        artifacts.load_predictor(weights, _onnx_spec())
    assert onnx.load_from_string(_graph()).graph.node[0].op_type == "Flatten"

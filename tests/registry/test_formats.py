"""Which stored file holds a version's weights."""

from __future__ import annotations

from aimaas.registry.formats import ONNX_FORMAT, TENSOR_FORMATS, TORCH_FORMAT, WEIGHTS, weights_file


def test_an_onnx_graph_is_the_weights_when_there_is_one() -> None:
    assert weights_file({"model.safetensors": "a", "model.json": "b"}) == "model.safetensors"
    assert weights_file({"model.onnx": "a", "model.json": "b"}) == "model.onnx"
    assert {WEIGHTS[f] for f in TENSOR_FORMATS} == {"model.safetensors", "model.onnx"}
    assert WEIGHTS[TORCH_FORMAT] == "model.safetensors" and WEIGHTS[ONNX_FORMAT] == "model.onnx"

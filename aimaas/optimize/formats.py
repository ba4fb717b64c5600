"""The registry formats of trained and optimized versions, and their weights files."""

from __future__ import annotations

TORCH_FORMAT = "aimaas-torch"  # model.safetensors + model.json, served by PyTorch
ONNX_FORMAT = "aimaas-onnx"  # model.onnx + model.json, served by onnxruntime
WEIGHTS = {TORCH_FORMAT: "model.safetensors", ONNX_FORMAT: "model.onnx"}


def weights_file(files: dict[str, str]) -> str:
    """The name of a version's weights among its ``details["files"]``."""
    return "model.onnx" if "model.onnx" in files else "model.safetensors"

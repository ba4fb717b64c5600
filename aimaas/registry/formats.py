"""The registry's model formats by name, and which stored file holds a version's weights."""

from __future__ import annotations

GGUF = "gguf"  # a llama.cpp file
TRANSFORMERS = "transformers"  # a Hugging Face folder
TORCH_FORMAT = "aimaas-torch"  # model.safetensors + model.json, served by PyTorch
ONNX_FORMAT = "aimaas-onnx"  # model.onnx + model.json, served by onnxruntime
# Trained (or optimized, or uploaded) here: the files are in the artifact store.
TENSOR_FORMATS = (TORCH_FORMAT, ONNX_FORMAT)
WEIGHTS = {TORCH_FORMAT: "model.safetensors", ONNX_FORMAT: "model.onnx"}


def weights_file(files: dict[str, str]) -> str:
    """The name of a version's weights among its stored files (name -> digest)."""
    return WEIGHTS[ONNX_FORMAT] if WEIGHTS[ONNX_FORMAT] in files else WEIGHTS[TORCH_FORMAT]

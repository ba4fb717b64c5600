"""A ``model.json`` with an ``optimization`` section (``aimaas.optimize`` wrote it): which
method made the model, and the network it describes loaded back (int8, pruned, or an
ONNX graph on onnxruntime), served by the same ``ModelPredictor`` as a trained one."""

from __future__ import annotations

from typing import Any, Literal, get_args

import torch
from safetensors import SafetensorError
from safetensors.torch import load

from aimaas.learn.architectures import load_network
from aimaas.learn.predictors import ModelPredictor
from aimaas.learn.servable import Predictor
from aimaas.learn.specs import ModelDescription

Method = Literal["quantize_dynamic", "quantize_static", "prune", "prune_structured", "export_onnx"]
METHODS: tuple[Method, ...] = get_args(Method)


def load_optimized(spec: ModelDescription, weights: bytes, section: Any) -> Predictor:
    """The optimized model described by ``spec`` and its ``optimization`` ``section``."""
    if not isinstance(section, dict) or section.get("method") not in METHODS:
        raise ValueError("model spec: optimization.method is unknown")
    method = section["method"]
    if method == "export_onnx":
        from aimaas.learn.onnx_graph import LEVELS, load_onnx  # onnx: only when one is served

        level = section.get("graph_optimization", "all")
        if level not in LEVELS:
            raise ValueError("model spec: optimization.graph_optimization is unknown")
        network = load_onnx(weights, spec, level=level, threads=torch.get_num_threads())
        return ModelPredictor(spec, network)
    try:
        tensors = load(weights)
    except (SafetensorError, ValueError) as exc:
        raise ValueError(f"model weights are not a safetensors file: {exc}") from None
    if method in ("quantize_dynamic", "quantize_static"):
        from aimaas.learn.quantized import load_quantized

        quantized = load_quantized(
            spec.algorithm, spec.config, tensors, section.get("quantization")
        )
        return ModelPredictor(spec, quantized)
    return ModelPredictor(spec, load_network(spec.algorithm, spec.config, tensors))

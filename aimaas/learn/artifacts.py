"""A trained model as two byte strings, and back: ``model.safetensors`` (tensors only) and
``model.json`` (the spec and the training metrics). Loading parses data, checks it, and
builds the network the spec names from our own code; nothing in either file is executed
or unpickled."""

from __future__ import annotations

import json
import math

from safetensors import SafetensorError
from safetensors.torch import load
from safetensors.torch import save as save_tensors

from aimaas.learn import specs
from aimaas.learn.architectures import load_network
from aimaas.learn.optimized import load_optimized
from aimaas.learn.predictors import ModelPredictor
from aimaas.learn.servable import Predictor, TrainedModel


def save(trained: TrainedModel) -> tuple[bytes, bytes]:
    """(model.safetensors bytes, model.json bytes)."""
    weights = save_tensors({k: v.detach().contiguous() for k, v in trained.weights.items()})
    metrics = {k: v if math.isfinite(v) else None for k, v in trained.metrics.items()}
    document = {**trained.spec, "metrics": metrics}
    return weights, json.dumps(document, indent=1, allow_nan=False).encode()


def load_predictor(weights: bytes, spec_json: bytes) -> Predictor:
    """The model in the two files, ready to serve; ValueError naming what does not fit."""
    spec = specs.read(spec_json)
    optimization = json.loads(spec_json).get("optimization")
    if optimization is not None:  # quantized, pruned or ONNX: made by aimaas.optimize
        return load_optimized(spec, weights, optimization)
    try:
        tensors = load(weights)
    except (SafetensorError, ValueError) as exc:
        raise ValueError(f"model weights are not a safetensors file: {exc}") from None
    network = load_network(spec.algorithm, spec.config, tensors)
    return ModelPredictor(spec, network)

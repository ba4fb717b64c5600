"""An optimized version on disk, and back.

Two files, like every trained model: the weights and ``model.json``. The weights are
``model.safetensors`` (pruned float weights, or int8 weights with their scales and zero
points as plain tensors: ``quantize.py``) or ``model.onnx`` (``export.py``). ``model.json``
is the parent's description (a pruned CNN with its smaller config) plus an
``optimization`` section: the method, its options, the chain of methods that made it,
and what loading needs (the quantized modules, the onnxruntime settings).

``aimaas.learn.artifacts.load_predictor`` hands a ``model.json`` with that section to
``aimaas.learn.optimized``, so optimized versions are served by the same
``ModelPredictor``, with the same preprocessing, signature, v2 infer, predict and dynamic
batching.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import torch
from safetensors.torch import save as save_tensors

from aimaas.registry.formats import ONNX_FORMAT, TORCH_FORMAT, WEIGHTS


@dataclass(frozen=True)
class OptimizedArtifact:
    format: str  # the registry format: TORCH_FORMAT or ONNX_FORMAT
    weights: bytes  # model.safetensors or model.onnx
    description: bytes  # model.json

    @property
    def files(self) -> dict[str, bytes]:
        return {WEIGHTS[self.format]: self.weights, "model.json": self.description}


def torch_artifact(tensors: dict[str, torch.Tensor], document: dict[str, Any]) -> OptimizedArtifact:
    weights = save_tensors({k: v.detach().contiguous() for k, v in tensors.items()})
    return OptimizedArtifact(TORCH_FORMAT, weights, _json(document))


def onnx_artifact(graph: bytes, document: dict[str, Any]) -> OptimizedArtifact:
    return OptimizedArtifact(ONNX_FORMAT, graph, _json(document))


def _json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, indent=1, allow_nan=False).encode()

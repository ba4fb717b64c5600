"""The contract between training and serving: what a training run produces and what the
server calls to answer requests with it.

A trained model is two files: ``model.safetensors`` (tensors only) and ``model.json``
(architecture config, preprocessing, labels, signature, training facts). ``save`` writes
them, ``load_predictor`` builds a ``Predictor`` back; nothing is ever unpickled.

Serving splits the work so that one bad request never touches its neighbours:
``prepare_*`` runs per request (validation and preprocessing, raising ``InvalidInput``
that names the offending instance or input) and ``run`` runs once per dynamic batch on
already-valid items.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import torch

Datatype = Literal["FP32", "FP64", "INT64", "INT32", "BOOL", "BYTES"]
Task = Literal["classification", "regression", "embedding"]


@dataclass(frozen=True)
class TensorSpec:
    """One named input or output of the Open Inference Protocol; -1 is a variable dim."""

    name: str
    datatype: Datatype
    shape: list[int]


@dataclass(frozen=True)
class Signature:
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]


@dataclass
class TrainedModel:
    """What a training run returns. ``spec`` is JSON-safe and becomes ``model.json``."""

    weights: dict[str, torch.Tensor]
    spec: dict[str, Any]
    metrics: dict[str, float] = field(default_factory=dict)


class Predictor(Protocol):
    algorithm: str
    task: Task
    signature: Signature
    labels: list[Any] | None  # class labels in output order (classifiers only)

    def prepare_instances(self, instances: list[Any]) -> list[np.ndarray]:
        """KServe v1 instances (a row dict, a text, a base64 image, or a word list for
        word2vec) to one model-input array each. Raises InvalidInput(param="instances[i]")."""
        ...

    def prepare_v2(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Decoded v2 input tensors (by name, already shaped; BYTES as an object array of
        str) to one model-input array per row. Raises InvalidInput(param=input name)."""
        ...

    def run(self, items: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
        """One batched forward pass over prepared items; per-item outputs keyed by the
        signature's output names. Thread-safe, no grad, deterministic per item."""
        ...

    def describe(self, output: dict[str, np.ndarray]) -> dict[str, Any]:
        """One KServe v1 prediction from one item's outputs: ``{"label", "probabilities":
        {label: p}}`` for classifiers, ``{"value"}`` for regressors, ``{"embedding"}``."""
        ...

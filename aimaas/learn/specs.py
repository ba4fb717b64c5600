"""``model.json``: what a trained model is, in data only.

The spec names the algorithm, its task, the network config, the fitted preprocessing, the
labels and the serving signature. ``read`` checks every part of it before anything is
built from it; the signature is always derived again from the parts, never trusted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aimaas.learn.architectures import NETWORKS, ModelConfig, config_from_json, config_to_json
from aimaas.learn.encoding import Encoding
from aimaas.learn.servable import Signature, Task, TensorSpec

FORMAT = "aimaas.learn/1"
TASKS: tuple[Task, ...] = ("classification", "regression", "embedding")


@dataclass(frozen=True)
class ModelDescription:
    algorithm: str
    task: Task
    config: ModelConfig
    encoding: Encoding
    output_size: int  # classes, 1 for regression, embedding width

    @property
    def signature(self) -> Signature:
        if self.encoding.kind == "text":
            inputs = [TensorSpec("text", "BYTES", [-1])]
        else:
            inputs = [TensorSpec("input", "FP32", [-1, *self.encoding.item_shape])]
        if self.task == "classification":
            labels = self.encoding.labels
            assert labels is not None
            outputs = [
                TensorSpec("probabilities", "FP32", [-1, len(labels.classes)]),
                TensorSpec("label", "INT64" if labels.integer else "BYTES", [-1]),
            ]
        elif self.task == "regression":
            outputs = [TensorSpec("prediction", "FP32", [-1])]
        else:
            outputs = [TensorSpec("embedding", "FP32", [-1, self.output_size])]
        return Signature(inputs=inputs, outputs=outputs)

    def to_json(self, **extra: Any) -> dict[str, Any]:
        labels = self.encoding.labels
        signature = self.signature
        return {
            "format": FORMAT,
            "algorithm": self.algorithm,
            "task": self.task,
            "config": config_to_json(self.config),
            "preprocessing": self.encoding.to_json(),
            "labels": None if labels is None else labels.classes,
            "output_size": self.output_size,
            "signature": {
                "inputs": [vars(t) for t in signature.inputs],
                "outputs": [vars(t) for t in signature.outputs],
            },
            **extra,
        }


def read(spec_json: bytes) -> ModelDescription:
    """The spec in ``spec_json``; ValueError naming the first part that is wrong."""
    try:
        data = json.loads(spec_json)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"model spec is not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"model spec: format must be {FORMAT!r}")
    algorithm, task, size = data.get("algorithm"), data.get("task"), data.get("output_size")
    if algorithm not in NETWORKS:
        raise ValueError(f"model spec: unknown algorithm {algorithm!r}")
    if task not in TASKS:
        raise ValueError(f"model spec: unknown task {task!r}")
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ValueError("model spec: invalid output_size")
    encoding = Encoding.from_json(data.get("preprocessing"), data.get("labels"))
    if (task == "classification") != (encoding.labels is not None) or (
        task == "classification" and encoding.labels and len(encoding.labels.classes) != size
    ):
        raise ValueError("model spec: labels do not match the task")
    if (task == "regression") != (encoding.target is not None):
        raise ValueError("model spec: target scaling does not match the task")
    config = config_from_json(algorithm, data.get("config"))
    if encoding.tokenizer is not None and getattr(config, "vocab_size", None) != len(
        encoding.tokenizer.vocabulary
    ):
        raise ValueError("model spec: the vocabulary does not match config.vocab_size")
    return ModelDescription(
        algorithm=algorithm,
        task=task,
        config=config,
        encoding=encoding,
        output_size=size,
    )

"""One optimization: a parent model's two files in, the child's artifact out."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel
from safetensors.torch import load
from torch import Tensor

from aimaas.learn import specs
from aimaas.learn.architectures import config_to_json, load_network
from aimaas.learn.inputs import TrainingData
from aimaas.learn.loop import EventSink
from aimaas.learn.models.cnn import CNN, CNNConfig
from aimaas.optimize import methods
from aimaas.optimize import prune as pruning
from aimaas.optimize.artifacts import OptimizedArtifact, onnx_artifact, torch_artifact
from aimaas.optimize.export import export_onnx
from aimaas.optimize.finetune import fine_tune
from aimaas.optimize.quantize import quantize_dynamic, quantize_static

CALIBRATION_BATCH = 64


def optimize(
    method: str,
    options: BaseModel,
    weights: bytes,
    spec_json: bytes,
    data: TrainingData | None,
    *,
    hyperparameters: dict[str, Any],
    seed: int,
    on_event: EventSink,
    check_stop: Callable[[], None],
) -> OptimizedArtifact:
    """The child of the model in (``weights``, ``spec_json``) made by ``method``.
    ``data`` (the parent's training data) is needed for calibration and fine-tuning."""
    document: dict[str, Any] = json.loads(spec_json)
    methods.check_applicable(method, document)
    spec = specs.read(spec_json)
    network = load_network(spec.algorithm, spec.config, load(weights))
    chosen = options.model_dump(mode="json")
    previous = document.pop("optimization", None) or {}
    document.pop("metrics", None)  # the parent's training metrics; the registry compares
    section: dict[str, Any] = {
        "method": method,
        "options": chosen,
        "history": [*previous.get("history", []), {"method": method, "options": chosen}],
    }
    epochs = int(getattr(options, "fine_tune_epochs", 0))
    if (method == "quantize_static" or epochs) and data is None:
        raise ValueError(f"{method} needs the parent's training data")

    def tune(model: torch.nn.Module, model_spec: specs.ModelDescription) -> None:
        if epochs:
            assert data is not None
            found = fine_tune(
                model, model_spec, hyperparameters, data, epochs=epochs, seed=seed,
                on_event=on_event, check_stop=check_stop,
            )  # fmt: skip
            section["fine_tune"] = {"epochs": epochs, **found}

    if method == "quantize_dynamic":
        quantized = quantize_dynamic(network)
        section["quantization"] = quantized.section
        return torch_artifact(quantized.tensors, {**document, "optimization": section})
    if method == "quantize_static":
        assert isinstance(network, CNN) and data is not None
        rows = int(getattr(options, "calibration_rows", 512))
        quantized = quantize_static(network, calibration_batches(spec, data, rows, seed))
        section["quantization"] = {**quantized.section, "calibration_rows": rows}
        return torch_artifact(quantized.tensors, {**document, "optimization": section})
    if method == "prune":
        targets = pruning.prune_global(network, float(getattr(options, "sparsity", 0.5)))
        tune(network, spec)
        pruning.make_permanent(targets)
        section["sparsity"] = pruning.sparsity(network)
        tensors = {k: v.detach().clone() for k, v in network.state_dict().items()}
        return torch_artifact(tensors, {**document, "optimization": section})
    if method == "prune_structured":
        assert isinstance(network, CNN) and isinstance(spec.config, CNNConfig)
        amount = float(getattr(options, "sparsity", 0.5))
        smaller, config = pruning.prune_channels(network, spec.config, amount)
        tune(smaller, dataclasses.replace(spec, config=config))
        section["channels"] = {"before": list(spec.config.channels), "after": list(config.channels)}
        section["hidden_size"] = {"before": spec.config.hidden_size, "after": config.hidden_size}
        tensors = {k: v.detach().clone() for k, v in smaller.state_dict().items()}
        document["config"] = config_to_json(config)
        return torch_artifact(tensors, {**document, "optimization": section})
    graph = export_onnx(network, spec)
    section["runtime"] = "onnxruntime"
    section["graph_optimization"] = getattr(options, "graph_optimization", "all")
    return onnx_artifact(graph, {**document, "optimization": section})


def calibration_batches(
    spec: specs.ModelDescription, data: TrainingData, rows: int, seed: int
) -> Iterator[Tensor]:
    """Up to ``rows`` training rows (a seeded sample), encoded as the network reads them."""
    n = len(data.train)
    chosen = np.sort(np.random.default_rng(seed).permutation(n)[: min(rows, n)])
    examples = spec.encoding.examples(data.train.subset(chosen), spec.task, param="training_file")
    assert examples.features is not None
    for start in range(0, len(chosen), CALIBRATION_BATCH):
        yield examples.features[start : start + CALIBRATION_BATCH]

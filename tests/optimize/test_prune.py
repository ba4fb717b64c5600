"""Pruning: channel pruning of the trained digits CNN (the layers and the file shrink, the
kept filters are the parent's strongest), and magnitude pruning's helpers on small
networks."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import torch
from safetensors.torch import load

from aimaas.learn import artifacts, specs
from aimaas.learn.models.cnn import CNNConfig
from tests.learn import one_thread
from tests.optimize import accuracy, child, held_out, parent

CNN = "cnn-digits"


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


def test_channel_pruning_shrinks_the_layers_and_the_file() -> None:
    weights, _ = parent(CNN)
    artifact = child(CNN, "prune_structured", sparsity=0.5, fine_tune_epochs=2)
    document = json.loads(artifact.description)
    assert document["config"]["channels"] == [16, 32]  # from [32, 64]
    assert document["config"]["hidden_size"] == 64  # from 128
    assert len(artifact.weights) < 0.5 * len(weights)
    shapes = {k: list(v.shape) for k, v in load(artifact.weights).items()}
    assert shapes["blocks.0.conv.weight"] == [16, 1, 3, 3]
    assert shapes["blocks.1.conv.weight"] == [32, 16, 3, 3]
    assert shapes["head.1.weight"] == [64, 32 * 2 * 2]
    assert shapes["head.4.weight"] == [10, 64]
    predictor = artifacts.load_predictor(artifact.weights, artifact.description)
    assert accuracy(predictor, held_out(CNN)) >= 0.9


def test_channel_pruning_without_fine_tuning_keeps_the_strongest_filters() -> None:
    """The kept filters are the parent's own (largest L1 norms), in the parent's order."""
    weights, spec_json = parent(CNN)
    spec = specs.read(spec_json)
    original = load(weights)["blocks.0.conv.weight"]
    artifact = child(CNN, "prune_structured", sparsity=0.5)
    kept = load(artifact.weights)["blocks.0.conv.weight"]
    norms = original.abs().sum(dim=(1, 2, 3))
    expected = torch.sort(torch.topk(norms, 16).indices).values
    assert torch.equal(kept, original[expected])
    assert isinstance(spec.config, CNNConfig) and spec.config.channels == (32, 64)

"""Pruning: channel pruning of the trained digits CNN (the layers and the file shrink, the
kept filters are the parent's strongest), and magnitude pruning's helpers on small
networks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import cast

import pytest
import torch
from safetensors.torch import load
from torch import nn

from aimaas.learn import artifacts, specs
from aimaas.learn.models.cnn import CNN as CNNNetwork
from aimaas.learn.models.cnn import CNNConfig
from aimaas.optimize import prune as pruning
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


def tiny_cnn(seed: int = 0) -> tuple[CNNNetwork, CNNConfig]:
    config = CNNConfig(
        in_channels=1, height=8, width=8, channels=(4, 6), kernel_size=3, hidden_size=8,
        n_outputs=3, dropout=0.0,
    )  # fmt: skip
    torch.manual_seed(seed)
    return CNNNetwork(config).eval(), config


def test_removing_channels_that_are_all_zero_changes_no_output() -> None:
    """Filters and units whose weights and biases are zero are the weakest, so they are the
    ones removed, and the smaller network computes exactly what the larger one did."""
    network, config = tiny_cnn()
    convs = [cast(nn.Conv2d, block.conv) for block in network.blocks]
    hidden = cast(nn.Linear, network.head[1])
    with torch.no_grad():
        for conv, dead in ((convs[0], [1, 3]), (convs[1], [0, 2, 4])):
            conv.weight[dead] = 0.0
            cast(torch.Tensor, conv.bias)[dead] = 0.0
        hidden.weight[[1, 2, 5, 7]] = 0.0
        hidden.bias[[1, 2, 5, 7]] = 0.0
    smaller, smaller_config = pruning.prune_channels(network, config, 0.5)
    assert smaller_config.channels == (2, 3) and smaller_config.hidden_size == 4
    assert smaller_config.n_outputs == 3 and smaller_config.kernel_size == 3
    assert not smaller.training
    x = torch.randn(5, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, found = network(x), smaller(x)
    assert found.shape == (5, 3)
    assert float((found - expected).abs().max()) < 1e-6


def test_channel_pruning_keeps_at_least_one_of_each() -> None:
    network, config = tiny_cnn()
    smaller, smaller_config = pruning.prune_channels(network, config, 0.99)
    assert smaller_config.channels == (1, 1) and smaller_config.hidden_size == 1
    with torch.no_grad():
        assert smaller(torch.zeros(2, 1, 8, 8)).shape == (2, 3)


class _Mixed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(10, 4)
        self.rnn = nn.LSTM(4, 3, batch_first=True)
        self.head = nn.Linear(3, 2)


def test_prunable_weights_are_matrices_not_embeddings_nor_biases() -> None:
    targets = {(type(module).__name__, name) for module, name in pruning.prunable(_Mixed())}
    assert targets == {("LSTM", "weight_ih_l0"), ("LSTM", "weight_hh_l0"), ("Linear", "weight")}


def test_global_pruning_takes_the_smallest_weights_of_all_layers_together() -> None:
    torch.manual_seed(0)
    first, second = nn.Linear(20, 20), nn.Linear(20, 20)
    network = nn.Sequential(first, second)
    with torch.no_grad():
        second.weight.mul_(0.001)  # a layer of small weights loses (nearly) all of them
    targets = pruning.prune_global(network, 0.5)
    assert len(targets) == 2
    assert hasattr(first, "weight_orig") and hasattr(first, "weight_mask")
    zeros = sum(int((layer.weight == 0).sum()) for layer in (first, second))
    assert zeros == 400  # half of the 800 weights, counted over both layers together
    assert float((second.weight == 0).float().mean()) > 0.95
    masked = first.weight.detach().clone()
    pruning.make_permanent(targets)
    assert not hasattr(first, "weight_orig") and not hasattr(first, "weight_mask")
    assert isinstance(first.weight, nn.Parameter)
    assert torch.equal(first.weight.detach(), masked)
    assert pruning.sparsity(network) == pytest.approx(0.5, abs=1 / 800)


def test_a_network_without_weight_matrices_cannot_be_pruned() -> None:
    network = nn.Sequential(nn.Embedding(5, 3), nn.LayerNorm(3))
    assert pruning.prunable(network) == []
    assert pruning.sparsity(network) == 0.0
    with pytest.raises(ValueError, match="no weight matrix to prune"):
        pruning.prune_global(network, 0.5)


def test_copy_network_is_a_separate_network_in_eval_mode() -> None:
    network, _ = tiny_cnn()
    network.train()
    copied = pruning.copy_network(network)
    assert not copied.training and network.training
    bias = cast(nn.Linear, cast(CNNNetwork, copied).head[4]).bias
    with torch.no_grad():
        bias.fill_(7.0)
    assert not torch.equal(cast(nn.Linear, network.head[4]).bias, bias)

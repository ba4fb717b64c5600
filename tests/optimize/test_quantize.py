"""int8 quantization: dynamic quantization makes RNN and Linear weights int8 with their
scales, and the artifact loads back into a network that computes bit for bit what the
quantized one did."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from safetensors.torch import load

from aimaas.learn import artifacts, specs
from aimaas.learn.architectures import load_network
from aimaas.learn.quantized import load_quantized
from aimaas.optimize.quantize import quantize_dynamic, quantize_static
from tests.learn import one_thread
from tests.optimize import accuracy, child, held_out, model_rows, network_input, parent, served

CNN = "cnn-digits"


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


@pytest.mark.parametrize("name", ["lstm-digits", "gru-digits", "lstm-topics"])
def test_dynamic_quantization_makes_rnn_weights_int8(name: str) -> None:
    weights, _ = parent(name)
    artifact = child(name, "quantize_dynamic")
    tensors = load(artifact.weights)
    section = json.loads(artifact.description)["optimization"]["quantization"]
    cell = "lstm" if name.startswith("lstm") else "gru"
    assert section["modules"] == {"rnn": cell, "head": "linear"}
    assert tensors["rnn.weight_ih_l0"].dtype == torch.int8
    assert tensors["rnn.weight_hh_l0"].dtype == torch.int8
    assert tensors["rnn.bias_ih_l0"].dtype == torch.float32
    assert len(artifact.weights) < 0.5 * len(weights)
    test = held_out(name)
    predictor = artifacts.load_predictor(artifact.weights, artifact.description)
    assert accuracy(predictor, test) >= accuracy(served(name), test) - 0.02


def test_quantized_networks_round_trip_bit_for_bit() -> None:
    """The network the artifact loads into computes exactly what the one that made it did."""
    for name, make in (
        (CNN, "static"),
        (CNN, "dynamic"),
        ("lstm-digits", "dynamic"),
        ("lstm-topics", "dynamic"),
    ):
        weights, spec_json = parent(name)
        spec = specs.read(spec_json)
        network = load_network(spec.algorithm, spec.config, load(weights))
        if make == "static":
            x = network_input(name)
            quantized = quantize_static(network, [x[:256]])  # type: ignore[arg-type]
        else:
            quantized = quantize_dynamic(network)
        loaded = load_quantized(spec.algorithm, spec.config, quantized.tensors, quantized.section)
        predictor = artifacts.load_predictor(weights, spec_json)
        rows = model_rows(predictor, held_out(name))[:64]
        with torch.inference_mode():
            if spec.encoding.kind == "text":
                from aimaas.learn.examples import pad

                ids, lengths = pad(rows)
                a, b = quantized.network(ids, lengths), loaded(ids, lengths)
            else:
                x = spec.encoding.features(np.stack(rows))
                a, b = quantized.network(x, None), loaded(x, None)
        assert torch.equal(a, b), (name, make)

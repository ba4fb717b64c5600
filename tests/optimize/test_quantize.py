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
from torch import nn

from aimaas.learn import artifacts, specs
from aimaas.learn.architectures import load_network
from aimaas.learn.models.cnn import CNN as CNNNetwork
from aimaas.learn.models.cnn import CNNConfig
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


class _TwoLayers(nn.Module):
    """forward(x, lengths) like every network of ours."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(6, 16)
        self.out = nn.Linear(16, 3)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        out: torch.Tensor = self.out(torch.relu(self.hidden(x)))
        return out


def test_dynamic_int8_weights_are_the_float_ones_within_half_a_step() -> None:
    torch.manual_seed(0)
    network = _TwoLayers().eval()
    before = {k: v.detach().clone() for k, v in network.state_dict().items()}
    quantized = quantize_dynamic(network)
    assert quantized.section == {
        "scheme": "dynamic", "backend": "x86", "dtype": "qint8",
        "modules": {"hidden": "linear", "out": "linear"},
    }  # fmt: skip
    tensors = quantized.tensors
    for layer in ("hidden", "out"):
        ints = tensors[f"{layer}.weight"]
        scale, zero_point = tensors[f"{layer}.weight_scale"], tensors[f"{layer}.weight_zero_point"]
        assert ints.dtype == torch.int8 and ints.shape == before[f"{layer}.weight"].shape
        assert scale.dtype == torch.float64 and scale.shape == ()  # one scale per tensor
        assert zero_point.dtype == torch.int64
        restored = (ints.double() - zero_point) * scale
        gap = (restored - before[f"{layer}.weight"].double()).abs().max()
        assert float(gap) <= float(scale) * 0.5001  # half a step, float32 rounding aside
        assert torch.equal(tensors[f"{layer}.bias"], before[f"{layer}.bias"])  # biases float
    assert set(tensors) == {
        f"{layer}.{name}"
        for layer in ("hidden", "out")
        for name in ("weight", "weight_scale", "weight_zero_point", "bias")
    }
    # The original is left as it was: quantization works on a copy.
    assert all(torch.equal(v, before[k]) for k, v in network.state_dict().items())
    x = torch.randn(4, 6, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        assert float((quantized.network(x, None) - network(x, None)).abs().max()) < 0.05


def test_a_network_without_linear_or_recurrent_layers_is_refused() -> None:
    with pytest.raises(ValueError, match="no Linear, LSTM or GRU layer"):
        quantize_dynamic(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()))


def test_static_quantization_has_per_channel_scales_and_activation_ranges() -> None:
    config = CNNConfig(
        in_channels=1, height=8, width=8, channels=(4,), kernel_size=3, hidden_size=8,
        n_outputs=3, dropout=0.0,
    )  # fmt: skip
    torch.manual_seed(0)
    network = CNNNetwork(config).eval()
    calibration = [
        torch.rand(16, 1, 8, 8, generator=torch.Generator().manual_seed(i)) for i in range(2)
    ]
    quantized = quantize_static(network, calibration)
    section = quantized.section
    assert section["scheme"] == "static" and section["dtype"] == "qint8"
    assert section["modules"] == {
        "blocks.0.conv": "conv_relu", "head.1": "linear_relu", "head.4": "linear",
    }  # fmt: skip
    tensors = quantized.tensors
    assert tensors["blocks.0.conv.weight"].dtype == torch.int8
    assert tensors["blocks.0.conv.weight_scale"].shape == (4,)  # one per output channel
    assert tensors["head.4.weight_scale"].shape == (3,)
    assert bool((tensors["head.4.weight_scale"] > 0).all())
    for path in ("input", "blocks.0.conv", "head.1", "head.4"):
        assert tensors[f"{path}.output_scale"].dtype == torch.float64
        assert 0 <= int(tensors[f"{path}.output_zero_point"]) <= 255  # uint8 activations
    x = calibration[0]
    with torch.inference_mode():
        gap = float((quantized.network(x, None) - network(x, None)).abs().max())
    assert gap < 0.05

"""quantized.py: the int8 structures made from our networks (dynamic Linear/LSTM/GRU, a
fused static CNN), an artifact of plain tensors loaded back bit for bit, and the
quantization sections and tensors it refuses."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import torch
import torch.ao.nn.quantized.dynamic as nnqd
from torch import nn

from aimaas.learn import quantized
from aimaas.learn.models.cnn import CNN, CNNConfig
from aimaas.learn.models.mlp import MLP, MLPConfig
from aimaas.learn.models.rnn import RNN, RNNConfig
from aimaas.optimize.quantize import quantize_dynamic, quantize_static
from tests.learn import one_thread

MLP_CONFIG = MLPConfig(n_features=4, hidden_sizes=(8,), n_outputs=3, dropout=0.0)
CNN_CONFIG = CNNConfig(1, 6, 6, (4,), 3, 8, 3, 0.0)


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


def mlp() -> MLP:
    torch.manual_seed(0)
    return MLP(MLP_CONFIG).eval()


def cnn() -> CNN:
    torch.manual_seed(0)
    return CNN(CNN_CONFIG).eval()


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="quantized backend 'tpu' is not available"):
        quantized.use_backend("tpu")


def test_dynamic_kinds_are_linear_lstm_and_gru() -> None:
    assert quantized.dynamic_kind(nn.Linear(2, 2)) == "linear"
    assert quantized.dynamic_kind(nn.LSTM(2, 2)) == "lstm"
    assert quantized.dynamic_kind(nn.GRU(2, 2)) == "gru"
    assert quantized.dynamic_kind(nn.Conv2d(1, 1, 1)) is None
    assert quantized.dynamic_kind(nn.ReLU()) is None


def test_a_dynamic_network_has_int8_weights_in_the_listed_modules_only() -> None:
    network = quantized.dynamic_network(mlp(), {"head": "linear"})
    assert isinstance(network.get_submodule("head"), nnqd.Linear)
    assert isinstance(network.get_submodule("hidden.0"), nn.Linear)  # not listed: float
    weight = quantized.quantized_weights(network.get_submodule("head"), "linear")["weight"]
    assert weight.dtype == torch.qint8 and weight.shape == (3, 8)


def test_recurrent_weights_are_named_like_the_float_ones() -> None:
    config = RNNConfig("lstm", 0, 3, 4, 5, 1, False, 0.0, 2)
    network = quantized.dynamic_network(RNN(config).eval(), {"rnn": "lstm"})
    names = quantized.quantized_weights(network.get_submodule("rnn"), "lstm")
    assert sorted(names) == ["weight_hh_l0", "weight_ih_l0"]


def test_the_static_structure_fuses_conv_relu_and_linear_relu() -> None:
    with pytest.raises(ValueError, match="static quantization takes a CNN"):
        quantized.static_prepared(mlp())
    quantized.use_backend()
    prepared = quantized.static_prepared(cnn())
    prepared(torch.randn(4, 1, 6, 6))  # calibrate the observers
    converted = quantized.convert(prepared)
    assert quantized.static_modules(converted) == {
        "blocks.0.conv": "conv_relu",
        "head.1": "linear_relu",
        "head.4": "linear",
    }
    assert converted(torch.randn(2, 1, 6, 6)).shape == (2, 3)


def test_a_dynamic_artifact_loads_back_bit_for_bit() -> None:
    made = quantize_dynamic(mlp())
    loaded = quantized.load_quantized("mlp", MLP_CONFIG, made.tensors, made.section)
    x = torch.randn(5, 4)
    with torch.no_grad():
        assert torch.equal(loaded(x), made.network(x))
    assert made.tensors["head.weight"].dtype == torch.int8


def test_a_static_artifact_loads_back_bit_for_bit() -> None:
    made = quantize_static(cnn(), [torch.randn(8, 1, 6, 6, generator=torch.Generator())])
    loaded = quantized.load_quantized("cnn", CNN_CONFIG, made.tensors, made.section)
    x = torch.randn(3, 1, 6, 6)
    with torch.no_grad():
        assert torch.equal(loaded(x), made.network(x))


@pytest.mark.parametrize(
    ("section", "says"),
    [
        ([], "optimization.quantization must be an object"),
        ({"scheme": "float4", "dtype": "qint8", "modules": {"head": "linear"}}, "scheme"),
        ({"scheme": "dynamic", "dtype": "qint4", "modules": {"head": "linear"}}, "scheme"),
        ({"scheme": "dynamic", "dtype": "qint8", "modules": {}}, "modules is invalid"),
        (
            {"scheme": "dynamic", "dtype": "qint8", "modules": {"head": "conv"}},
            "modules is invalid",
        ),
        (
            {"scheme": "dynamic", "dtype": "qint8", "modules": {"head": "linear"}, "backend": 1},
            "backend is invalid",
        ),
        ({"scheme": "static", "dtype": "qint8", "modules": {"head": "linear"}}, "for CNNs"),
    ],
)
def test_a_bad_quantization_section_is_refused(section: Any, says: str) -> None:
    made = quantize_dynamic(mlp())
    with pytest.raises(ValueError, match=says):
        quantized.load_quantized("mlp", MLP_CONFIG, made.tensors, section)


def test_listed_modules_must_be_the_networks_own() -> None:
    made = quantize_dynamic(mlp())
    wrong = made.section | {"modules": {"hidden.0": "linear", "head": "lstm"}}
    with pytest.raises(ValueError, match="quantized modules do not match the network"):
        quantized.load_quantized("mlp", MLP_CONFIG, made.tensors, wrong)
    partial = made.section | {"modules": {"head": "linear"}}  # hidden.0 stays quantized
    with pytest.raises(ValueError, match=re.escape("hidden.0.weight is quantized but its module")):
        quantized.load_quantized("mlp", MLP_CONFIG, made.tensors, partial)


def test_a_listed_module_without_int8_weights_is_refused() -> None:
    made = quantize_dynamic(mlp())
    tensors = dict(made.tensors)
    for suffix in ("", "_scale", "_zero_point"):
        del tensors[f"head.weight{suffix}"]
    tensors["head.weight"] = mlp().head.weight.detach().clone()  # a float weight instead
    with pytest.raises(ValueError, match=re.escape("head.weight is not quantized")):
        quantized.load_quantized("mlp", MLP_CONFIG, tensors, made.section)


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("head.weight_scale", torch.tensor(0.1, dtype=torch.float32), "must be float64"),
        ("head.weight_zero_point", torch.tensor(0, dtype=torch.int32), "must be float64"),
        ("head.weight_scale", torch.tensor(float("inf"), dtype=torch.float64), "positive"),
        ("head.weight_scale", torch.ones(2, dtype=torch.float64), "do not match"),
        ("head.weight_scale", torch.ones((1, 1), dtype=torch.float64), "do not match"),
    ],
)
def test_bad_scales_are_refused(key: str, value: torch.Tensor, says: str) -> None:
    made = quantize_dynamic(mlp())
    tensors = made.tensors | {key: value}
    with pytest.raises(ValueError, match=says):
        quantized.load_quantized("mlp", MLP_CONFIG, tensors, made.section)


def test_per_channel_scales_must_be_one_per_output_channel() -> None:
    made = quantize_dynamic(mlp())
    tensors = made.tensors | {
        "head.weight_scale": torch.full((2,), 0.1, dtype=torch.float64),
        "head.weight_zero_point": torch.zeros(2, dtype=torch.int64),
    }
    with pytest.raises(ValueError, match=re.escape("head.weight has 3 channels but 2 scales")):
        quantized.load_quantized("mlp", MLP_CONFIG, tensors, made.section)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (torch.tensor([0.1], dtype=torch.float64), "positive float64 scalar"),
        (torch.tensor(0.0, dtype=torch.float64), "positive float64 scalar"),
    ],
)
def test_a_static_output_scale_must_be_a_positive_scalar(value: torch.Tensor, says: str) -> None:
    made = quantize_static(cnn(), [torch.randn(8, 1, 6, 6)])
    tensors = made.tensors | {"head.1.output_scale": value}
    with pytest.raises(ValueError, match=re.escape(f"head.1.output_scale must be a {says}")):
        quantized.load_quantized("cnn", CNN_CONFIG, tensors, made.section)
    bad_zero = made.tensors | {"input.output_zero_point": torch.tensor(3.0, dtype=torch.float64)}
    says_zero = re.escape("input.output_zero_point must be an int64 scalar")
    with pytest.raises(ValueError, match=says_zero):
        quantized.load_quantized("cnn", CNN_CONFIG, bad_zero, made.section)

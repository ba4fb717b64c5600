"""int8 networks built with ``torch.ao.quantization`` (fbgemm / x86 kernels), and an
int8 artifact loaded back.

The structure of a quantized network is made here for both ways: ``dynamic_network`` (every
listed Linear, LSTM and GRU with int8 weights, activations quantized on the fly) and
``static_prepared`` / ``convert`` (a CNN whose Conv+ReLU and Linear+ReLU are fused, int8 from
its input's quantization to the logits' dequantization); ``aimaas.optimize.quantize`` makes
the artifacts.

The artifact is safetensors of plain tensors: a quantized weight ``<module>.<name>`` as
its int8 values, with ``<module>.<name>_scale`` (float64, one per tensor or per output
channel) and ``<module>.<name>_zero_point`` (int64); static quantization adds each
module's output scale and zero point (``<module>.output_scale``, ``.output_zero_point``)
and the input's (``input.output_scale``, ``input.output_zero_point``). ``model.json``
names the quantized modules. ``load_quantized`` builds the float network from our own
code, checks every tensor, quantizes the structure the same way and puts the stored
integers back bit for bit; nothing is unpickled.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import torch
import torch.ao.nn.intrinsic.quantized as nniq
import torch.ao.nn.quantized as nnq
import torch.ao.nn.quantized.dynamic as nnqd
import torch.ao.quantization as tq
from torch import Tensor, nn

from aimaas.learn.architectures import ModelConfig, load_network
from aimaas.learn.models.cnn import CNN

BACKEND = "x86"
INPUT = "input"  # the static network's input quantization, in tensor names
KINDS = frozenset({"linear", "lstm", "gru", "conv_relu", "linear_relu"})


class StaticCNN(nn.Module):
    """A CNN between a quantization of its input and a dequantization of its logits."""

    def __init__(self, cnn: CNN) -> None:
        super().__init__()
        self.quant = tq.QuantStub()
        self.cnn = cnn
        self.dequant = tq.DeQuantStub()

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        out: Tensor = self.dequant(self.cnn(self.quant(x)))  # (B, C, H, W) -> (B, n_outputs)
        return out


@contextmanager
def quiet() -> Iterator[None]:
    """torch.ao.quantization warns on every call that it moves to torchao one day."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def use_backend(backend: str = BACKEND) -> None:
    if backend not in torch.backends.quantized.supported_engines:
        raise ValueError(f"quantized backend {backend!r} is not available on this machine")
    if torch.backends.quantized.engine != backend:
        torch.backends.quantized.engine = backend


def dynamic_kind(module: nn.Module) -> str | None:
    kinds: dict[type[nn.Module], str] = {nn.Linear: "linear", nn.LSTM: "lstm", nn.GRU: "gru"}
    return kinds.get(type(module))


def dynamic_network(network: nn.Module, modules: dict[str, str]) -> nn.Module:
    use_backend()
    spec = dict.fromkeys(modules, tq.default_dynamic_qconfig)
    with quiet():
        quantized: nn.Module = tq.quantize_dynamic(  # type: ignore[no-untyped-call]
            network, spec, dtype=torch.qint8
        )
    return quantized.eval()


def convert(prepared: nn.Module) -> nn.Module:
    with quiet():
        converted: nn.Module = tq.convert(prepared)  # type: ignore[no-untyped-call]
    return converted


def static_prepared(cnn: nn.Module) -> StaticCNN:
    if not isinstance(cnn, CNN):
        raise ValueError("static quantization takes a CNN")
    wrapped = StaticCNN(cnn).eval()
    groups = [[f"cnn.blocks.{i}.conv", f"cnn.blocks.{i}.act"] for i in range(len(cnn.blocks))]
    groups.append(["cnn.head.1", "cnn.head.2"])
    with quiet():
        tq.fuse_modules(wrapped, groups, inplace=True)  # type: ignore[no-untyped-call]
        qconfig = tq.get_default_qconfig(BACKEND)  # type: ignore[no-untyped-call]
        wrapped.qconfig = qconfig
        tq.prepare(wrapped, inplace=True)  # type: ignore[no-untyped-call]
    return wrapped


def static_modules(converted: nn.Module) -> dict[str, str]:
    kinds: dict[type[nn.Module], str] = {
        nniq.ConvReLU2d: "conv_relu",
        nniq.LinearReLU: "linear_relu",
        nnq.Linear: "linear",
    }
    return {
        name.removeprefix("cnn."): kinds[type(module)]
        for name, module in converted.named_modules()
        if type(module) in kinds
    }


def quantized_weights(module: nn.Module, kind: str) -> dict[str, Tensor]:
    """A quantized module's int8 weights by their float names."""
    if kind in ("lstm", "gru"):
        rnn = cast(nnqd.LSTM, module)
        weights: dict[str, Tensor] = rnn._weight_bias()["weight"]  # type: ignore[no-untyped-call]
        return weights
    return {"weight": module.weight()}  # type: ignore[operator]


# --- loading ---------------------------------------------------------------------------


def load_quantized(
    algorithm: str, config: ModelConfig, tensors: dict[str, Tensor], section: Any
) -> nn.Module:
    """The quantized network in an artifact; ValueError naming what does not fit."""
    scheme, modules = _checked_section(section)
    if scheme == "static" and algorithm != "cnn":
        raise ValueError("model spec: static quantization is for CNNs")
    tensors = dict(tensors)
    activations = _pop_activations(tensors, modules, static=scheme == "static")
    exact = _pop_weights(tensors, modules)
    # The float network, every name, shape and dtype checked, holding the dequantized
    # weights; quantizing it gives the same structure, and the exact integers go back in.
    float_tensors = {**tensors, **{key: q.dequantize() for key, q in exact.items()}}
    network = load_network(algorithm, config, float_tensors)
    if scheme == "dynamic":
        found = {n: kind for n, m in network.named_modules() if (kind := dynamic_kind(m))}
        if any(found.get(path) != kind for path, kind in modules.items()):
            raise ValueError("model spec: quantized modules do not match the network")
        quantized = dynamic_network(network, modules)
        _restore_weights(quantized, modules, exact, tensors, prefix="")
        return quantized
    use_backend(section.get("backend", BACKEND))
    converted = convert(static_prepared(network))
    if static_modules(converted) != modules:
        raise ValueError("model spec: quantized modules do not match the network")
    _restore_weights(converted, modules, exact, tensors, prefix="cnn.")
    for path, (scale, zero_point) in activations.items():
        if path == INPUT:
            quant = cast(nnq.Quantize, converted.quant)
            quant.scale.copy_(torch.tensor([scale]))
            quant.zero_point.copy_(torch.tensor([zero_point]))
        else:
            module: Any = converted.get_submodule(f"cnn.{path}")
            module.scale, module.zero_point = scale, zero_point
    served: nn.Module = converted.eval()
    return served


def _checked_section(section: Any) -> tuple[str, dict[str, str]]:
    if not isinstance(section, dict):
        raise ValueError("model spec: optimization.quantization must be an object")
    scheme, modules = section.get("scheme"), section.get("modules")
    if scheme not in ("dynamic", "static") or section.get("dtype") != "qint8":
        raise ValueError("model spec: unknown quantization scheme")
    if (
        not isinstance(modules, dict)
        or not modules
        or not all(isinstance(p, str) and k in KINDS for p, k in modules.items())
    ):
        raise ValueError("model spec: optimization.quantization.modules is invalid")
    if not isinstance(section.get("backend", BACKEND), str):
        raise ValueError("model spec: optimization.quantization.backend is invalid")
    return scheme, dict(modules)


def _pop_activations(
    tensors: dict[str, Tensor], modules: dict[str, str], *, static: bool
) -> dict[str, tuple[float, int]]:
    found: dict[str, tuple[float, int]] = {}
    for path in [*modules, INPUT] if static else []:
        scale = tensors.pop(f"{path}.output_scale", None)
        zero_point = tensors.pop(f"{path}.output_zero_point", None)
        if scale is None or zero_point is None:
            raise ValueError(f"weights do not match the spec: missing {path}.output_scale")
        if scale.dtype != torch.float64 or scale.dim() != 0 or not 0 < float(scale) < 1e30:
            raise ValueError(f"weights: {path}.output_scale must be a positive float64 scalar")
        if zero_point.dtype != torch.int64 or zero_point.dim() != 0:
            raise ValueError(f"weights: {path}.output_zero_point must be an int64 scalar")
        if not 0 <= int(zero_point) <= 255:
            raise ValueError(f"weights: {path}.output_zero_point is outside 0..255")
        found[path] = (float(scale), int(zero_point))
    return found


def _pop_weights(tensors: dict[str, Tensor], modules: dict[str, str]) -> dict[str, Tensor]:
    """The quantized weights (by their float names), rebuilt from integers and scales."""
    exact: dict[str, Tensor] = {}
    for key in [k for k in tensors if k.endswith("_scale") and not k.endswith(".output_scale")]:
        name = key.removesuffix("_scale")
        if not any(name.startswith(f"{path}.") for path in modules):
            raise ValueError(f"weights: {name} is quantized but its module is not listed")
        values, scale = tensors.pop(name, None), tensors.pop(key)
        zero_point = tensors.pop(f"{name}_zero_point", None)
        if values is None or zero_point is None:
            raise ValueError(f"weights do not match the spec: {name} lacks values or zero points")
        exact[name] = _quantized_tensor(name, values, scale, zero_point)
    return exact


def _quantized_tensor(name: str, values: Tensor, scale: Tensor, zero_point: Tensor) -> Tensor:
    if values.dtype != torch.int8 or values.dim() < 1:
        raise ValueError(f"weights: {name} must be int8")
    if scale.dtype != torch.float64 or zero_point.dtype != torch.int64:
        raise ValueError(f"weights: {name}'s scales must be float64, zero points int64")
    if scale.shape != zero_point.shape or scale.dim() > 1:
        raise ValueError(f"weights: {name}'s scales and zero points do not match")
    if not bool(((scale > 0) & (scale < 1e30)).all()):
        raise ValueError(f"weights: {name}'s scales must be positive and finite")
    if not bool(((zero_point >= -128) & (zero_point <= 127)).all()):
        raise ValueError(f"weights: {name}'s zero points are outside -128..127")
    if scale.dim() == 0:
        return torch._make_per_tensor_quantized_tensor(values, float(scale), int(zero_point))
    if scale.shape[0] != values.shape[0]:
        raise ValueError(f"weights: {name} has {values.shape[0]} channels but {len(scale)} scales")
    return torch._make_per_channel_quantized_tensor(values, scale, zero_point, 0)


def _restore_weights(
    network: nn.Module,
    modules: dict[str, str],
    exact: dict[str, Tensor],
    floats: dict[str, Tensor],
    *,
    prefix: str,
) -> None:
    used: set[str] = set()
    for path, kind in modules.items():
        module = network.get_submodule(prefix + path)
        names = quantized_weights(module, kind)
        keys = {name: f"{path}.{name}" for name in names}
        missing = [key for key in keys.values() if key not in exact]
        if missing:
            raise ValueError(f"weights do not match the spec: {missing[0]} is not quantized")
        used.update(keys.values())
        if kind in ("lstm", "gru"):
            state = {name: exact[key] for name, key in keys.items()}
            state.update({n.replace("weight", "bias", 1): _bias(floats, path, n) for n in names})
            cast(nnqd.LSTM, module).set_weight_bias(state)  # type: ignore[no-untyped-call]
        else:
            bias = floats.get(f"{path}.bias")
            module.set_weight_bias(exact[keys["weight"]], bias)  # type: ignore[operator]
    if used != set(exact):
        extra = sorted(set(exact) - used)[:3]
        raise ValueError(f"weights do not match the spec: unexpected quantized {extra}")


def _bias(floats: dict[str, Tensor], path: str, weight_name: str) -> Tensor:
    return floats[f"{path}.{weight_name.replace('weight', 'bias', 1)}"]

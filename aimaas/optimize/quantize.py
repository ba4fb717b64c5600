"""int8 quantization with ``torch.ao.quantization`` (fbgemm / x86 kernels), and its
artifact as plain tensors.

- ``quantize_dynamic``: every Linear, LSTM and GRU keeps its weights as int8 (one scale
  per tensor); activations are quantized on the fly, batch by batch, so nothing needs
  calibrating. Convolutions stay float.
- ``quantize_static`` (CNNs): Conv+ReLU and Linear+ReLU are fused, weights are int8 with
  one scale per output channel, and activations are uint8 between layers, with ranges
  observed on calibration rows (a histogram observer per layer). The network runs in
  integers from its input's quantization to the logits' dequantization.

The artifact is safetensors of plain tensors: a quantized weight ``<module>.<name>`` as
its int8 values, with ``<module>.<name>_scale`` (float64, one per tensor or per output
channel) and ``<module>.<name>_zero_point`` (int64); static quantization adds each
module's output scale and zero point (``<module>.output_scale``, ``.output_zero_point``)
and the input's (``input.output_scale``, ``input.output_zero_point``). ``model.json``
names the quantized modules; ``aimaas.learn.quantized`` builds the structure and loads
the artifact back.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

import torch
import torch.ao.nn.quantized as nnq
from torch import Tensor, nn

from aimaas.learn.models.cnn import CNN
from aimaas.learn.quantized import (
    BACKEND,
    INPUT,
    convert,
    dynamic_kind,
    dynamic_network,
    quantized_weights,
    static_modules,
    static_prepared,
    use_backend,
)


@dataclass
class Quantized:
    network: nn.Module  # ready to serve: forward(x, lengths)
    tensors: dict[str, Tensor]  # the artifact
    section: dict[str, Any]  # model.json's optimization.quantization


def quantize_dynamic(network: nn.Module) -> Quantized:
    """A copy of ``network`` with int8 Linear / LSTM / GRU weights."""
    network = copy.deepcopy(network).eval()
    modules = {name: kind for name, m in network.named_modules() if (kind := dynamic_kind(m))}
    if not modules:
        raise ValueError("the network has no Linear, LSTM or GRU layer to quantize")
    float_state = {k: v.detach().clone() for k, v in network.state_dict().items()}
    quantized = dynamic_network(network, modules)
    tensors = _without_quantized(float_state, quantized, modules)
    return Quantized(quantized, tensors, _section("dynamic", modules))


def quantize_static(network: CNN, calibration: Iterable[Tensor]) -> Quantized:
    """A copy of the CNN in int8, activation ranges observed on ``calibration`` batches."""
    use_backend()
    prepared = static_prepared(copy.deepcopy(network).eval())
    with torch.no_grad():
        for batch in calibration:
            prepared(batch)
    converted = convert(prepared)
    modules = static_modules(converted)
    tensors: dict[str, Tensor] = {}
    for path in modules:
        module: Any = converted.get_submodule(f"cnn.{path}")  # a quantized conv or linear
        tensors.update(_weight_tensors(f"{path}.weight", module.weight()))
        tensors[f"{path}.bias"] = module.bias().detach().clone()
        tensors.update(_activation(path, float(module.scale), int(module.zero_point)))
    quant = cast(nnq.Quantize, converted.quant)
    tensors.update(_activation(INPUT, float(quant.scale), int(quant.zero_point)))
    return Quantized(converted, tensors, _section("static", modules))


def _section(scheme: str, modules: dict[str, str]) -> dict[str, Any]:
    return {"scheme": scheme, "backend": BACKEND, "dtype": "qint8", "modules": modules}


def _without_quantized(
    float_state: dict[str, Tensor], quantized: nn.Module, modules: dict[str, str]
) -> dict[str, Tensor]:
    """The float state with each quantized weight swapped for its integers and scales."""
    tensors = dict(float_state)
    for path, kind in modules.items():
        for name, weight in quantized_weights(quantized.get_submodule(path), kind).items():
            key = f"{path}.{name}"
            if key not in tensors:
                raise ValueError(f"quantized weight {key} has no float original")
            del tensors[key]
            tensors.update(_weight_tensors(key, weight))
    return tensors


def _weight_tensors(key: str, weight: Tensor) -> dict[str, Tensor]:
    scheme = weight.qscheme()
    if scheme in (torch.per_tensor_affine, torch.per_tensor_symmetric):
        scale = torch.tensor(weight.q_scale(), dtype=torch.float64)
        zero_point = torch.tensor(weight.q_zero_point(), dtype=torch.int64)
    elif weight.q_per_channel_axis() == 0:
        scale = weight.q_per_channel_scales().to(torch.float64)
        zero_point = weight.q_per_channel_zero_points().to(torch.int64)
    else:
        raise ValueError(f"{key}: per-channel scales on axis {weight.q_per_channel_axis()}")
    return {
        key: weight.int_repr().contiguous(),
        f"{key}_scale": scale.contiguous(),
        f"{key}_zero_point": zero_point.contiguous(),
    }


def _activation(path: str, scale: float, zero_point: int) -> dict[str, Tensor]:
    return {
        f"{path}.output_scale": torch.tensor(scale, dtype=torch.float64),
        f"{path}.output_zero_point": torch.tensor(zero_point, dtype=torch.int64),
    }

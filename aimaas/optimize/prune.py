"""Pruning: removing the weights that matter least.

- ``prune`` (global magnitude pruning, unstructured; Han et al. 2015, "Learning both
  weights and connections"): the weights of all layers are ranked together by their
  absolute value and the smallest ``sparsity`` share set to zero (``torch.nn.utils.prune.
  global_unstructured``), so a layer whose weights are all small loses more of them. The
  shapes stay, so the file and the dense kernels keep their size: this shows how much of
  a network is redundant, and is the step before sparse storage or sparse kernels.
- ``prune_structured`` (channel pruning for CNNs; Li et al. 2017, "Pruning filters for
  efficient ConvNets"): each convolution keeps the output channels with the largest L1
  norm of their filters, and the dense hidden layer the units with the largest L1 norm of
  their incoming weights; the following layers lose the matching inputs. The result is a
  smaller ordinary CNN (a smaller config in ``model.json``): a smaller file and fewer
  multiply-adds on every forward pass.

Either may be followed by a short fine-tune (``finetune.py``), with the pruning masks held
fixed for unstructured pruning.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import cast

import torch
from torch import Tensor, nn
from torch.nn.utils import prune

from aimaas.learn.models.cnn import CNN, CNNConfig

Target = tuple[nn.Module, str]


def prunable(network: nn.Module) -> list[Target]:
    """Every weight matrix or filter bank (Linear, Conv, RNN and attention weights), not
    embeddings (rows of a lookup table) nor biases."""
    targets: list[Target] = []
    for module in network.modules():
        if isinstance(module, nn.Embedding):
            continue
        for name, parameter in module.named_parameters(recurse=False):
            if name.startswith("weight") and parameter.dim() >= 2:
                targets.append((module, name))
    return targets


def prune_global(network: nn.Module, sparsity: float) -> list[Target]:
    """Mask the smallest ``sparsity`` share of all prunable weights (in place); the masks
    stay attached (``weight_orig`` * ``weight_mask``) until ``make_permanent``."""
    targets = prunable(network)
    if not targets:
        raise ValueError("the network has no weight matrix to prune")
    prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=sparsity)
    return targets


def make_permanent(targets: list[Target]) -> None:
    """Fold the masks into the weights: plain parameters with zeros again."""
    for module, name in targets:
        prune.remove(module, name)  # type: ignore[no-untyped-call]


def sparsity(network: nn.Module) -> float:
    """The share of zeros among the prunable weights."""
    weights: list[Tensor] = [getattr(module, name) for module, name in prunable(network)]
    total = sum(w.numel() for w in weights)
    return float(sum(int((w == 0).sum()) for w in weights) / max(total, 1))


def prune_channels(network: CNN, config: CNNConfig, amount: float) -> tuple[CNN, CNNConfig]:
    """A smaller CNN: each convolution and the dense hidden layer without its ``amount``
    share of output channels / units of least L1 norm (at least one stays)."""
    keep_in = torch.arange(config.in_channels)
    state: dict[str, Tensor] = {}
    widths: list[int] = []
    convs = [cast(nn.Conv2d, block.conv) for block in network.blocks]
    for i, conv in enumerate(convs):
        weight = conv.weight.detach()[:, keep_in]  # (C_out, C_in kept, k, k)
        keep_out = _strongest(conv.weight.detach().abs().sum(dim=(1, 2, 3)), amount)
        state[f"blocks.{i}.conv.weight"] = weight[keep_out].clone()
        assert conv.bias is not None
        state[f"blocks.{i}.conv.bias"] = conv.bias.detach()[keep_out].clone()
        widths.append(len(keep_out))
        keep_in = keep_out
    hidden, output = cast(nn.Linear, network.head[1]), cast(nn.Linear, network.head[4])
    cells = hidden.in_features // convs[-1].out_channels
    # The flattened grid is channel-major: channel c owns columns c*cells .. (c+1)*cells.
    columns = (keep_in[:, None] * cells + torch.arange(cells)[None, :]).reshape(-1)
    keep_units = _strongest(hidden.weight.detach().abs().sum(dim=1), amount)
    state["head.1.weight"] = hidden.weight.detach()[keep_units][:, columns].clone()
    state["head.1.bias"] = hidden.bias.detach()[keep_units].clone()
    state["head.4.weight"] = output.weight.detach()[:, keep_units].clone()
    state["head.4.bias"] = output.bias.detach().clone()
    smaller = dataclasses.replace(config, channels=tuple(widths), hidden_size=len(keep_units))
    pruned = CNN(smaller)
    pruned.load_state_dict(state)
    return pruned.eval(), smaller


def _strongest(norms: Tensor, amount: float) -> Tensor:
    """Indices (in their original order) of the largest norms, all but ``amount`` of them."""
    keep = max(1, round(len(norms) * (1.0 - amount)))
    return torch.sort(torch.topk(norms, keep).indices).values


def copy_network(network: nn.Module) -> nn.Module:
    return copy.deepcopy(network).eval()

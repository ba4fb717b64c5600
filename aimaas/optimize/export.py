"""ONNX export: the network as a self-contained graph, served by onnxruntime
(``aimaas.learn.onnx_graph``).

Only the network goes into the graph (``input`` [batch, ...] float32 -> ``output``
[batch, outputs], the batch axis dynamic); preprocessing and postprocessing stay in
Python, the same code as the PyTorch predictor's, so both answer the same requests the
same way.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor, nn

from aimaas.learn.specs import ModelDescription

OPSET = 18
MAX_BATCH = 1 << 20


class _Exportable(nn.Module):
    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.network(x, None)
        return out


def export_onnx(network: nn.Module, spec: ModelDescription) -> bytes:
    """The network as ONNX bytes (opset 18, dynamic batch axis, weights inside)."""
    if spec.encoding.kind == "text":
        raise ValueError("text models are not exported to ONNX")
    example = spec.encoding.features(np.zeros((2, *spec.encoding.item_shape)))  # (2, ...)
    wrapper = _Exportable(network).eval()  # eval: the exporter restores the wrapper's mode
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    with _quiet_exporter():
        program = torch.onnx.export(
            wrapper,
            (example,),
            input_names=["input"],
            output_names=["output"],
            dynamic_shapes=({0: batch},),
            dynamo=True,
            opset_version=OPSET,
            optimize=True,
            verbose=False,
        )
    assert program is not None
    return bytes(program.model_proto.SerializeToString())


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """The exporter prints its progress, warns about tracing details and logs that
    torchvision's operators are missing; none of it concerns a user."""
    noisy = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = noisy.level
    noisy.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        noisy.setLevel(level)

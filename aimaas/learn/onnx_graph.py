"""An exported ONNX graph served with onnxruntime.

``OnnxNetwork`` wraps an onnxruntime session as a module with the networks'
``forward(x, lengths)``, so the one ``ModelPredictor`` serves it, with the same
preprocessing and postprocessing as the PyTorch predictor (``aimaas.optimize.export``
makes the graphs).

A stored graph is data, but ONNX can point outside itself: tensors in external files,
custom operator domains, functions. ``load_onnx`` refuses all of those before
onnxruntime sees the bytes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import onnxruntime as ort  # type: ignore[import-untyped]
import torch
from torch import Tensor, nn

from aimaas.learn.specs import ModelDescription

LEVELS: dict[str, ort.GraphOptimizationLevel] = {
    "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}
DOMAINS = frozenset({"", "ai.onnx"})


class OnnxNetwork(nn.Module):
    """An onnxruntime session behind a network's ``forward(x, lengths)``."""

    def __init__(self, session: ort.InferenceSession) -> None:
        super().__init__()
        self.session = session

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        features = x.detach().numpy().astype(np.float32, copy=False)
        (out,) = self.session.run(["output"], {"input": features})
        return torch.from_numpy(np.asarray(out))


def load_onnx(data: bytes, spec: ModelDescription, *, level: str, threads: int) -> OnnxNetwork:
    """A session for the graph in ``data``; ValueError unless it is a self-contained graph
    of standard operators with the one input and output the spec implies."""
    check_graph(data, spec)
    options = ort.SessionOptions()
    options.graph_optimization_level = LEVELS[level]
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.enable_mem_pattern = True
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own, untyped errors
        raise ValueError(f"onnxruntime cannot load the model: {type(exc).__name__}") from None
    return OnnxNetwork(session)


def check_graph(data: bytes, spec: ModelDescription) -> None:
    try:
        model = onnx.load_from_string(data)
    except Exception:  # protobuf's DecodeError and friends
        raise ValueError("model.onnx is not an ONNX model") from None
    if model.functions or any(o.domain not in DOMAINS for o in model.opset_import):
        raise ValueError("model.onnx uses functions or operator domains aimaas does not run")
    graphs = [model.graph]
    while graphs:
        graph = graphs.pop()
        for tensor in [*graph.initializer, *(s.values for s in graph.sparse_initializer)]:
            if tensor.data_location == onnx.TensorProto.EXTERNAL or tensor.external_data:
                raise ValueError("model.onnx refers to external data")
        for node in graph.node:
            if node.domain not in DOMAINS:
                raise ValueError(f"model.onnx uses the operator domain {node.domain!r}")
            for attribute in node.attribute:
                if attribute.t.external_data or attribute.t.data_location:
                    raise ValueError("model.onnx refers to external data")
                graphs.extend([*([attribute.g] if attribute.HasField("g") else []),
                               *attribute.graphs])  # fmt: skip
    weights = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in weights]
    example = spec.encoding.features(np.zeros((1, *spec.encoding.item_shape)))
    expected = {"input": list(example.shape[1:]), "output": [spec.output_size]}
    found = {t.name: _dims(t)[1:] for t in [*inputs, *model.graph.output]}
    if found != expected:
        raise ValueError(f"model.onnx takes and gives {found}, not {expected}")


def _dims(value: Any) -> list[int | str]:
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]

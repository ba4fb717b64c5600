"""ONNX graphs: at most the limit; the top-level protobuf walked by hand first (known wire
types, lengths inside the file, a graph present), then ``onnx.load_model_from_string``, no
tensor stored outside the file, and ``onnx.checker.check_model``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from aimaas.uploads.limits import UploadLimits
from aimaas.uploads.refusal import refused
from aimaas.uploads.sniff import MODEL_FORMATS_HINT, ONNX_FIELDS, varint

_ONNX_GRAPH, _ONNX_IR_VERSION = 7, 1


class OnnxSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    format: Literal["onnx"] = "onnx"
    ir_version: int
    opsets: dict[str, int]
    inputs: list[str]
    outputs: list[str]
    nodes: int


def _protobuf_fields(data: bytes | memoryview) -> Iterator[tuple[int, int, int, int]]:
    """(field number, wire type, start, end) of each top-level field; ValueError unless the
    message is well formed to its last byte."""
    pos = 0
    while pos < len(data):
        tag, pos = varint(data, pos)
        field, wire = tag >> 3, tag & 7
        if field == 0:
            raise ValueError("field number 0")
        start = pos
        if wire == 0:
            _, pos = varint(data, pos)
        elif wire == 1:
            pos += 8
        elif wire == 2:
            length, pos = varint(data, pos)
            start = pos
            pos += length
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"wire type {wire}")
        if pos > len(data):
            raise ValueError("field past the end")
        yield field, wire, start, pos


def _walk_tensors(model: Any) -> Iterator[Any]:
    """Every TensorProto in a model: initializers, constants, subgraphs, functions, training."""
    graphs = [model.graph]
    nodes: list[Any] = [node for function in model.functions for node in function.node]
    for info in model.training_info:
        graphs.extend([info.initialization, info.algorithm])
    while graphs or nodes:
        if graphs:
            graph = graphs.pop()
            yield from graph.initializer
            for sparse in graph.sparse_initializer:
                yield from (sparse.values, sparse.indices)
            nodes.extend(graph.node)
            continue
        node = nodes.pop()
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            for sparse in [
                *([attribute.sparse_tensor] if attribute.HasField("sparse_tensor") else []),
                *attribute.sparse_tensors,
            ]:
                yield from (sparse.values, sparse.indices)
            if attribute.HasField("g"):
                graphs.append(attribute.g)
            graphs.extend(attribute.graphs)


def _check_wire_format(data: bytes) -> None:
    seen: set[int] = set()
    try:
        for field, wire, _, _ in _protobuf_fields(data):
            expected = ONNX_FIELDS.get(field)
            if expected is not None and wire != expected:
                raise ValueError(f"field {field} has wire type {wire}")
            seen.add(field)
    except ValueError as exc:
        raise refused(
            f"The file is not a well-formed ONNX model (protobuf: {exc}); {MODEL_FORMATS_HINT}."
        ) from None
    if _ONNX_GRAPH not in seen or _ONNX_IR_VERSION not in seen:
        raise refused(
            f"The file is not an ONNX model (no graph or IR version); {MODEL_FORMATS_HINT}."
        )


def check_onnx(path: Path, limits: UploadLimits) -> OnnxSummary:
    size = path.stat().st_size
    if size > limits.max_onnx_bytes:
        raise refused(
            f"The ONNX file has {size} bytes; at most {limits.max_onnx_bytes} are accepted."
        )
    data = path.read_bytes()
    _check_wire_format(data)
    import onnx  # only here: it is large

    try:
        model = onnx.load_model_from_string(data)
    except Exception:  # protobuf's DecodeError and friends
        raise refused(f"The file is not a valid ONNX model; {MODEL_FORMATS_HINT}.") from None
    del data
    for tensor in _walk_tensors(model):
        if tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.external_data):
            raise refused(
                f"The ONNX model keeps tensor {tensor.name[:64]!r} in an external file; save it "
                "with every tensor inside the one file (onnx.save(..., "
                "save_as_external_data=False))."
            )
    try:
        onnx.checker.check_model(model)
    except Exception as exc:  # onnx.checker.ValidationError and protobuf's errors
        raise refused(
            f"The ONNX model does not pass onnx.checker: {str(exc).splitlines()[0][:300]}"
        ) from None
    weights = {t.name for t in model.graph.initializer}
    return OnnxSummary(
        ir_version=int(model.ir_version),
        opsets={o.domain or "ai.onnx": int(o.version) for o in model.opset_import},
        inputs=[i.name[:64] for i in model.graph.input if i.name not in weights][:16],
        outputs=[o.name[:64] for o in model.graph.output][:16],
        nodes=len(model.graph.node),
    )

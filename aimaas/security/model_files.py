"""Uploaded model files (``purpose: "model"``): judged by their content, checked against
hostile input before anything reads a tensor, and summarised for the registry.

Four kinds are accepted: safetensors weights, GGUF, ONNX, and the ``model.json`` description
that goes with safetensors or ONNX weights. The name of the file is never trusted: a pickle
(or a ``torch.save`` zip, which holds one) called ``model.safetensors`` is refused without a
byte of it being unpickled, and so is anything else that is none of the four.

- safetensors: the 8-byte header length within the file and at most 100 MB; the header a
  JSON object (no duplicate keys, NaN or deep nesting); known dtypes; ``data_offsets`` inside
  the data section, sorted, without gaps or overlaps, covering it exactly; every shape's
  product (Python ints: no overflow) times the dtype's size equal to its byte length;
  ``__metadata__`` strings only.
- GGUF: ``aimaas.engine.gguf.read_gguf(tensors=True)``: magic, version, bounded counts,
  tensor names, dims, types and offsets checked the way ggml checks them.
- ONNX: at most ``MAX_ONNX_BYTES``; the top-level protobuf walked by hand first (known wire
  types, lengths inside the file, a graph present), then ``onnx.load_model_from_string``,
  no tensor stored outside the file, and ``onnx.checker.check_model``.
- ``model.json``: at most ``MAX_DESCRIPTION_BYTES``, checked by ``aimaas.learn.specs.read``.

Every refusal is an ``InvalidInput`` naming ``file`` that says what is wrong and what to send.
"""

from __future__ import annotations

import json
import pickletools
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

from aimaas.engine.gguf import read_gguf
from aimaas.errors import InvalidInput

MAX_SAFETENSORS_HEADER = 100 * 1000 * 1000  # the limit the safetensors library sets itself
MAX_TENSOR_RANK = 64
MAX_ONNX_BYTES = 512 << 20
MAX_DESCRIPTION_BYTES = 64 << 20
_INT64_MAX = 2**63 - 1
_HEAD_BYTES = 64 << 10

MODEL_FORMATS = ("safetensors", "gguf", "onnx", "model.json")
FORMATS_HINT = (
    "upload safetensors weights (with their model.json), a GGUF file or an ONNX graph "
    "(with its model.json)"
)

# safetensors dtypes and their sizes in bytes (the sub-byte float formats are not accepted).
DTYPE_BYTES = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E5M2": 1,
    "F8_E4M3": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "I64": 8,
    "U64": 8,
    "F64": 8,
}

# ModelProto's fields and their protobuf wire types (0 varint, 2 length-delimited).
_ONNX_FIELDS = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2, 26: 2}
_ONNX_GRAPH, _ONNX_IR_VERSION = 7, 1
_PICKLE_STARTS = frozenset({"PROTO", "MARK", "EMPTY_DICT", "EMPTY_LIST", "EMPTY_TUPLE", "GLOBAL"})


def _refuse(message: str) -> NoReturn:
    raise InvalidInput(message, param="file")


def inspect_model_upload(path: Path, filename: str) -> dict[str, Any]:
    """Check an uploaded model file and summarise it (stored as the file's ``details``).

    The format is judged from the content; ``filename`` only sharpens an error message."""
    size = path.stat().st_size
    if size == 0:
        _refuse(f"The file is empty; {FORMATS_HINT}.")
    with path.open("rb") as stream:
        head = stream.read(_HEAD_BYTES)
    kind = sniff_model(head, filename)
    if kind == "safetensors":
        return check_safetensors(path)
    if kind == "gguf":
        return _check_gguf(path)
    if kind == "onnx":
        return check_onnx(path)
    return check_description(path)


# --- sniffing ---------------------------------------------------------------------------------


def sniff_model(head: bytes, filename: str) -> str:
    """One of MODEL_FORMATS, from the first bytes; refuses pickles, archives and the rest."""
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        if b"data.pkl" in head or b".pkl" in head[:1024]:
            _refuse(
                "This is a PyTorch torch.save file (a zip holding a pickle); pickles are never "
                f"loaded. Save the weights with safetensors instead; {FORMATS_HINT}."
            )
        _refuse(f"Archives are not model files; {FORMATS_HINT}.")
    # Before the pickle check: a header length's first byte can be a pickle opcode. A JSON
    # text can have a '{' at byte 8 too; a real header length (< 2**32) cannot be text.
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{" and head[4:8] != bytes(4)
    if head[8:9] == b"{" and not text:
        return "safetensors"
    if head.startswith(b"GGUF"):
        return "gguf"
    if _looks_like_pickle(head):
        _refuse(
            "This is a Python pickle (torch.save, joblib or pickle); pickles are never loaded. "
            f"Save the weights with safetensors instead; {FORMATS_HINT}."
        )
    if text or head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{":
        return "model.json"
    if _looks_like_onnx(head):
        return "onnx"
    name = filename.lower()
    hint = ""
    if name.endswith((".safetensors", ".gguf", ".onnx", ".json")):
        hint = f" (its name says {name.rsplit('.', 1)[-1]}, its content does not)"
    _refuse(f"Unrecognised model file{hint}; {FORMATS_HINT}.")


def _looks_like_pickle(head: bytes) -> bool:
    """Protocol 2+ starts with PROTO; protocols 0 and 1 with a few typical opcodes. Parsed by
    pickletools, which only reads opcodes and never runs anything."""
    if len(head) >= 2 and head[0] == 0x80 and head[1] <= 5:
        return True
    ops = 0
    try:
        for opcode, _, _ in pickletools.genops(head[:4096]):
            if ops == 0 and opcode.name not in _PICKLE_STARTS:
                return False
            ops += 1
            if ops >= 3 or opcode.name == "STOP":
                return True
    except Exception:  # not a pickle, or cut off in the head
        pass
    return ops >= 3


def _varint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    value = shift = 0
    for i in range(10):
        if pos + i >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos + i]
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos + i + 1
    raise ValueError("varint longer than 10 bytes")


def _protobuf_fields(data: bytes | memoryview) -> Iterator[tuple[int, int, int, int]]:
    """(field number, wire type, start, end) of each top-level field; ValueError unless the
    message is well formed to its last byte."""
    pos = 0
    while pos < len(data):
        tag, pos = _varint(data, pos)
        field, wire = tag >> 3, tag & 7
        if field == 0:
            raise ValueError("field number 0")
        start = pos
        if wire == 0:
            _, pos = _varint(data, pos)
        elif wire == 1:
            pos += 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            start = pos
            pos += length
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"wire type {wire}")
        if pos > len(data):
            raise ValueError("field past the end")
        yield field, wire, start, pos


def _looks_like_onnx(head: bytes) -> bool:
    """An ONNX ModelProto starts with a known field of the right wire type."""
    try:
        tag, _ = _varint(head, 0)
    except ValueError:
        return False
    return _ONNX_FIELDS.get(tag >> 3) == tag & 7


# --- safetensors ------------------------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"the key {key[:64]!r} appears twice")
        result[key] = value
    return result


def _no_constants(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _strict_json(data: bytes, what: str) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        _refuse(f"The {what} is not UTF-8 text.")
    try:  # json's parser raises RecursionError on deep nesting, it does not crash
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:
        _refuse(f"The {what} is not valid JSON ({str(exc)[:200]}).")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_safetensors(path: Path) -> dict[str, Any]:
    """Check a safetensors file's header against its size; nothing after the header is read."""
    size = path.stat().st_size
    if size < 8:
        _refuse("The safetensors file is shorter than its 8-byte header length.")
    with path.open("rb") as stream:
        (header_len,) = struct.unpack("<Q", stream.read(8))
        if header_len > MAX_SAFETENSORS_HEADER:
            _refuse(
                f"The safetensors header claims {header_len} bytes; at most "
                f"{MAX_SAFETENSORS_HEADER} are accepted."
            )
        if 8 + header_len > size:
            _refuse(
                f"The safetensors header claims {header_len} bytes but the file has only "
                f"{size - 8} after the length; the file is truncated or not safetensors."
            )
        header = _strict_json(stream.read(header_len), "safetensors header")
    if not isinstance(header, dict):
        _refuse("The safetensors header is not a JSON object.")
    data_size = size - 8 - header_len
    metadata = header.pop("__metadata__", None)
    if metadata is not None and (
        not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values())
    ):
        _refuse("The safetensors __metadata__ must map names to strings only.")
    spans: list[tuple[int, int, str]] = []
    parameters = 0
    dtypes: set[str] = set()
    for name, entry in header.items():
        shown = name[:64]
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            _refuse(
                f"Tensor {shown!r} of the safetensors header needs exactly 'dtype', 'shape' and "
                "'data_offsets'."
            )
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if not isinstance(dtype, str) or dtype not in DTYPE_BYTES:
            _refuse(
                f"Tensor {shown!r} has the unknown dtype {str(dtype)[:16]!r}; known: "
                f"{', '.join(DTYPE_BYTES)}."
            )
        if (
            not isinstance(shape, list)
            or len(shape) > MAX_TENSOR_RANK
            or not all(_is_int(d) and d >= 0 for d in shape)
        ):
            _refuse(f"Tensor {shown!r} has an invalid shape (a list of non-negative integers).")
        elements = 1
        for dim in shape:
            elements *= dim
            if elements > _INT64_MAX or dim > _INT64_MAX:
                _refuse(f"Tensor {shown!r} has a shape whose size overflows 64 bits.")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(_is_int(o) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1]
        ):
            _refuse(f"Tensor {shown!r} has invalid data_offsets (two integers, begin <= end).")
        begin, end = offsets
        if end > data_size:
            _refuse(
                f"Tensor {shown!r} ends at byte {end} of a data section of {data_size} bytes: "
                "past the end of the file."
            )
        if elements * DTYPE_BYTES[dtype] != end - begin:
            _refuse(
                f"Tensor {shown!r}: shape {shape} of {dtype} needs "
                f"{elements * DTYPE_BYTES[dtype]} bytes, its offsets span {end - begin}."
            )
        spans.append((begin, end, shown))
        parameters += elements
        dtypes.add(dtype)
    spans.sort()
    expected = 0
    for begin, end, shown in spans:
        if begin < expected:
            _refuse(f"Tensor {shown!r} overlaps the tensor before it in the data section.")
        if begin > expected:
            _refuse(f"There is a gap of {begin - expected} bytes before tensor {shown!r}.")
        expected = end
    if expected != data_size:
        _refuse(
            f"The tensors cover {expected} bytes of a data section of {data_size}; the file "
            "has trailing bytes that belong to no tensor."
        )
    return {
        "format": "safetensors",
        "tensors": len(spans),
        "parameters": parameters,
        "dtypes": sorted(dtypes),
    }


# --- GGUF -------------------------------------------------------------------------------------


def _check_gguf(path: Path) -> dict[str, Any]:
    try:
        info = read_gguf(path, tensors=True)
    except InvalidInput as exc:
        _refuse(exc.message)
    return {
        "format": "gguf",
        "architecture": info.architecture[:64],
        "tensors": info.tensor_count,
        "parameters": info.parameters,
        "chat_template": info.chat_template is not None,
        "context_length": info.context_length,
    }


# --- ONNX -------------------------------------------------------------------------------------


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


def check_onnx(path: Path) -> dict[str, Any]:
    size = path.stat().st_size
    if size > MAX_ONNX_BYTES:
        _refuse(f"The ONNX file has {size} bytes; at most {MAX_ONNX_BYTES} are accepted.")
    data = path.read_bytes()
    seen: set[int] = set()
    try:
        for field, wire, _, _ in _protobuf_fields(data):
            expected = _ONNX_FIELDS.get(field)
            if expected is not None and wire != expected:
                raise ValueError(f"field {field} has wire type {wire}")
            seen.add(field)
    except ValueError as exc:
        _refuse(f"The file is not a well-formed ONNX model (protobuf: {exc}); {FORMATS_HINT}.")
    if _ONNX_GRAPH not in seen or _ONNX_IR_VERSION not in seen:
        _refuse(f"The file is not an ONNX model (no graph or IR version); {FORMATS_HINT}.")
    import onnx  # only here: it is large

    try:
        model = onnx.load_model_from_string(data)
    except Exception:  # protobuf's DecodeError and friends
        _refuse(f"The file is not a valid ONNX model; {FORMATS_HINT}.")
    del data
    for tensor in _walk_tensors(model):
        if tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.external_data):
            _refuse(
                f"The ONNX model keeps tensor {tensor.name[:64]!r} in an external file; save it "
                "with every tensor inside the one file (onnx.save(..., "
                "save_as_external_data=False))."
            )
    try:
        onnx.checker.check_model(model)
    except Exception as exc:  # onnx.checker.ValidationError and protobuf's errors
        _refuse(f"The ONNX model does not pass onnx.checker: {str(exc).splitlines()[0][:300]}")
    weights = {t.name for t in model.graph.initializer}
    return {
        "format": "onnx",
        "ir_version": int(model.ir_version),
        "opsets": {o.domain or "ai.onnx": int(o.version) for o in model.opset_import},
        "inputs": [i.name[:64] for i in model.graph.input if i.name not in weights][:16],
        "outputs": [o.name[:64] for o in model.graph.output][:16],
        "nodes": len(model.graph.node),
    }


# --- model.json -------------------------------------------------------------------------------


def check_description(path: Path) -> dict[str, Any]:
    """A ``model.json``: JSON, then every part checked by ``aimaas.learn.specs.read``."""
    from aimaas.learn import specs  # torch is imported with it

    size = path.stat().st_size
    if size > MAX_DESCRIPTION_BYTES:
        _refuse(
            f"The model description has {size} bytes; at most {MAX_DESCRIPTION_BYTES} are accepted."
        )
    data = path.read_bytes()
    document = _strict_json(data, "model description")
    if not isinstance(document, dict):
        _refuse("The model description is not a JSON object.")
    try:
        spec = specs.read(data)
    except (ValueError, TypeError, KeyError) as exc:
        _refuse(f"The model description is not valid: {str(exc)[:300]}.")
    optimization = document.get("optimization")
    method = optimization.get("method") if isinstance(optimization, dict) else None
    if optimization is not None and not isinstance(method, str):
        _refuse("The model description's 'optimization' section needs a 'method'.")
    return {
        "format": "model.json",
        "algorithm": spec.algorithm,
        "task": spec.task,
        "optimization": method[:64] if isinstance(method, str) else None,
    }

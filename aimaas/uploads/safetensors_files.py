"""safetensors weights, checked from the header alone: the 8-byte header length within the
file and the limit; the header one strict-JSON object (no duplicate names, NaN or runaway
nesting); known dtypes; ``data_offsets`` inside the data section, sorted, without gaps or
overlaps, covering it exactly; every shape's product (Python ints: no overflow) times the
dtype's size equal to its byte length; ``__metadata__`` strings only."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from aimaas.uploads import strict_json
from aimaas.uploads.limits import UploadLimits
from aimaas.uploads.refusal import refused

_INT64_MAX = 2**63 - 1

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


class SafetensorsSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    format: Literal["safetensors"] = "safetensors"
    tensors: int
    parameters: int
    dtypes: list[str]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _elements(name: str, shape: Any, limits: UploadLimits) -> int:
    if (
        not isinstance(shape, list)
        or len(shape) > limits.max_tensor_rank
        or not all(_is_int(d) and d >= 0 for d in shape)
    ):
        raise refused(f"Tensor {name!r} has an invalid shape (a list of non-negative integers).")
    elements = 1
    for dim in shape:
        elements *= dim
        if elements > _INT64_MAX or dim > _INT64_MAX:
            raise refused(f"Tensor {name!r} has a shape whose size overflows 64 bits.")
    return elements


def _header(path: Path, size: int, limits: UploadLimits) -> tuple[dict[str, Any], int]:
    """The header (``__metadata__`` checked and removed) and the data section's size."""
    if size < 8:
        raise refused("The safetensors file is shorter than its 8-byte header length.")
    with path.open("rb") as stream:
        (header_len,) = struct.unpack("<Q", stream.read(8))
        if header_len > limits.max_safetensors_header_bytes:
            raise refused(
                f"The safetensors header claims {header_len} bytes; at most "
                f"{limits.max_safetensors_header_bytes} are accepted."
            )
        if 8 + header_len > size:
            raise refused(
                f"The safetensors header claims {header_len} bytes but the file has only "
                f"{size - 8} after the length; the file is truncated or not safetensors."
            )
        header = strict_json.parse_upload(stream.read(header_len), "safetensors header")
    if not isinstance(header, dict):
        raise refused("The safetensors header is not a JSON object.")
    metadata = header.pop("__metadata__", None)
    if metadata is not None and (
        not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values())
    ):
        raise refused("The safetensors __metadata__ must map names to strings only.")
    return header, size - 8 - header_len


def check_safetensors(path: Path, limits: UploadLimits) -> SafetensorsSummary:
    """Check a safetensors file's header against its size; nothing after the header is read."""
    header, data_size = _header(path, path.stat().st_size, limits)
    spans: list[tuple[int, int, str]] = []
    parameters = 0
    dtypes: set[str] = set()
    for name, entry in header.items():
        shown = name[:64]
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise refused(
                f"Tensor {shown!r} of the safetensors header needs exactly 'dtype', 'shape' and "
                "'data_offsets'."
            )
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if not isinstance(dtype, str) or dtype not in DTYPE_BYTES:
            raise refused(
                f"Tensor {shown!r} has the unknown dtype {str(dtype)[:16]!r}; known: "
                f"{', '.join(DTYPE_BYTES)}."
            )
        elements = _elements(shown, shape, limits)
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(_is_int(o) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1]
        ):
            raise refused(
                f"Tensor {shown!r} has invalid data_offsets (two integers, begin <= end)."
            )
        begin, end = offsets
        if end > data_size:
            raise refused(
                f"Tensor {shown!r} ends at byte {end} of a data section of {data_size} bytes: "
                "past the end of the file."
            )
        if elements * DTYPE_BYTES[dtype] != end - begin:
            raise refused(
                f"Tensor {shown!r}: shape {shape} of {dtype} needs "
                f"{elements * DTYPE_BYTES[dtype]} bytes, its offsets span {end - begin}."
            )
        spans.append((begin, end, shown))
        parameters += elements
        dtypes.add(dtype)
    _check_layout(spans, data_size)
    return SafetensorsSummary(tensors=len(spans), parameters=parameters, dtypes=sorted(dtypes))


def _check_layout(spans: list[tuple[int, int, str]], data_size: int) -> None:
    """The tensors laid end to end, covering the data section exactly."""
    expected = 0
    for begin, end, shown in sorted(spans):
        if begin < expected:
            raise refused(f"Tensor {shown!r} overlaps the tensor before it in the data section.")
        if begin > expected:
            raise refused(f"There is a gap of {begin - expected} bytes before tensor {shown!r}.")
        expected = end
    if expected != data_size:
        raise refused(
            f"The tensors cover {expected} bytes of a data section of {data_size}; the file "
            "has trailing bytes that belong to no tensor."
        )

"""safetensors uploads: a good header passes; every malformed one is refused from the header
alone, before any tensor is read."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from aimaas.errors import InvalidInput
from aimaas.runtime.model_uploads import inspect_model_upload
from aimaas.uploads.limits import UploadLimits
from tests.uploads.model_builders import GOOD_HEADER, refused_quickly, safetensors, sparse, tensor

# Each: (content, what the refusal says).
HOSTILE_SAFETENSORS: dict[str, tuple[bytes, str]] = {
    "st huge header length": (safetensors(GOOD_HEADER, length=2**62), "claims"),
    "st header past the end": (safetensors(GOOD_HEADER, length=4096), "truncated"),
    "st header not json": (safetensors(b"{not json}"), "not valid JSON"),
    "st header an array": (safetensors(b"[1]"), "Unrecognised"),
    "st header nan": (safetensors(b'{"a": NaN}'), "not valid JSON"),
    "st duplicate names": (
        safetensors(
            b'{"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}, '
            b'"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}',
            b"\0",
        ),
        "twice",
    ),
    "st deep nesting": (
        safetensors(b"{" + b'"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
        "JSON",
    ),
    "st unknown dtype": (safetensors({"a": tensor("F128", [1], 0, 16)}, b"\0" * 16), "dtype"),
    "st offsets past the end": (safetensors({"a": tensor("F32", [4], 0, 16)}, b"\0" * 8), "past"),
    "st overlapping offsets": (
        safetensors({"a": tensor("F32", [2], 0, 8), "b": tensor("F32", [2], 4, 12)}, b"\0" * 12),
        "overlaps",
    ),
    "st gap": (
        safetensors({"a": tensor("F32", [1], 0, 4), "b": tensor("F32", [1], 8, 12)}, b"\0" * 12),
        "gap",
    ),
    "st trailing bytes": (safetensors({"a": tensor("F32", [1], 0, 4)}, b"\0" * 12), "trailing"),
    "st overflowing shape": (
        safetensors({"a": tensor("F32", [2**62, 2**62, 16], 0, 4)}, b"\0" * 4),
        "overflows",
    ),
    "st wrapping shape": (  # 2**64 * 4 bytes wraps to 0 in 64-bit arithmetic
        safetensors({"a": tensor("F32", [2**32, 2**32], 0, 0)}),
        "overflows",
    ),
    "st wrong dtype size": (safetensors({"a": tensor("F32", [3], 0, 8)}, b"\0" * 8), "needs 12"),
    "st negative dim": (safetensors({"a": tensor("F32", [-1], 0, 0)}), "shape"),
    "st boolean dim": (safetensors({"a": tensor("F32", [True], 0, 4)}, b"\0" * 4), "shape"),
    "st reversed offsets": (safetensors({"a": tensor("U8", [0], 4, 0)}, b"\0" * 4), "offsets"),
    "st extra field": (
        safetensors({"a": {**tensor("U8", [1], 0, 1), "x": 1}}, b"\0"),
        "exactly",
    ),
    "st metadata not strings": (
        safetensors({"__metadata__": {"a": 1}, "a": tensor("U8", [1], 0, 1)}, b"\0"),
        "__metadata__",
    ),
}


def test_a_good_header_passes(tmp_path: Path) -> None:
    path = tmp_path / "w"
    path.write_bytes(safetensors(GOOD_HEADER, b"\0" * 12))
    summary = inspect_model_upload(path, "w")
    assert summary.model_dump() == {
        "format": "safetensors",
        "tensors": 2,
        "parameters": 6,
        "dtypes": ["F32", "I8"],
    }


@pytest.mark.parametrize("case", list(HOSTILE_SAFETENSORS))
def test_hostile_safetensors_are_refused(case: str, tmp_path: Path) -> None:
    refused_quickly(*HOSTILE_SAFETENSORS[case], tmp_path)


def test_the_header_size_limit_is_checked_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big"
    limit = UploadLimits().max_safetensors_header_bytes
    sparse(path, limit + 1024, struct.pack("<Q", limit + 1) + b"{")
    with pytest.raises(InvalidInput, match="at most"):
        inspect_model_upload(path, "big")


def test_the_limits_are_passed_in(tmp_path: Path) -> None:
    path = tmp_path / "w"
    path.write_bytes(safetensors(GOOD_HEADER, b"\0" * 12))
    with pytest.raises(InvalidInput, match="at most 16 are accepted"):
        inspect_model_upload(path, "w", limits=UploadLimits(max_safetensors_header_bytes=16))
    path.write_bytes(safetensors({"a": tensor("U8", [1, 1], 0, 1)}, b"\0"))
    with pytest.raises(InvalidInput, match="invalid shape"):
        inspect_model_upload(path, "w", limits=UploadLimits(max_tensor_rank=1))

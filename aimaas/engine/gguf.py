"""A reader for the GGUF header: checked structure and the metadata key/values.

Only what aimaas needs before handing a file to llama.cpp: is it a GGUF at all, is the header
sane, does it carry a chat template, what context length was it trained for. Arrays are
skipped (the tokenizer's vocabulary is one), strings are bounded.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from aimaas.errors import InvalidInput

MAGIC = b"GGUF"
MAX_STRING = 16 * 1024 * 1024  # chat templates are long; nothing legitimate is longer
MAX_KV = 100_000
MAX_TENSORS = 1_000_000

# GGUF value types: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
_SCALARS: dict[int, str] = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9


@dataclass(frozen=True)
class GgufInfo:
    version: int
    tensor_count: int
    metadata: dict[str, object]

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", "unknown"))

    @property
    def chat_template(self) -> str | None:
        value = self.metadata.get("tokenizer.chat_template")
        return value if isinstance(value, str) and value.strip() else None

    @property
    def supports_tools(self) -> bool:
        """Whether the chat template renders tool definitions (so tool calls can work)."""
        return self.chat_template is not None and "tools" in self.chat_template

    @property
    def context_length(self) -> int | None:
        value = self.metadata.get(f"{self.architecture}.context_length")
        return int(value) if isinstance(value, int) else None

    @property
    def embedding_length(self) -> int | None:
        value = self.metadata.get(f"{self.architecture}.embedding_length")
        return int(value) if isinstance(value, int) else None


class _Reader:
    def __init__(self, stream: BinaryIO, size: int) -> None:
        self.stream = stream
        self.size = size

    def read(self, n: int) -> bytes:
        data = self.stream.read(n)
        if len(data) != n:
            raise InvalidInput("The GGUF file ends inside its header.")
        return data

    def unpack(self, fmt: str) -> int | float | bool:
        value: int | float | bool = struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]
        return value

    def string(self) -> str:
        length = int(self.unpack("<Q"))
        if length > MAX_STRING or length > self.size:
            raise InvalidInput("The GGUF header has a string longer than the file allows.")
        return self.read(length).decode("utf-8", errors="replace")

    def value(self, kind: int) -> object:
        if kind in _SCALARS:
            return self.unpack(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item_kind = int(self.unpack("<I"))
            count = int(self.unpack("<Q"))
            if count > self.size:
                raise InvalidInput("The GGUF header has an array larger than the file.")
            if item_kind in _SCALARS:
                self.stream.seek(count * struct.calcsize(_SCALARS[item_kind]), 1)
            else:
                for _ in range(count):
                    self.value(item_kind)
            return None  # arrays are skipped
        raise InvalidInput(f"The GGUF header has an unknown value type {kind}.")


def read_gguf(path: Path) -> GgufInfo:
    """Parse and check a GGUF header; raises InvalidInput for anything that is not one."""
    size = path.stat().st_size
    with path.open("rb") as stream:
        reader = _Reader(stream, size)
        if reader.read(4) != MAGIC:
            raise InvalidInput(f"{path.name} is not a GGUF file (bad magic bytes).")
        version = int(reader.unpack("<I"))
        if version not in (2, 3):
            raise InvalidInput(f"GGUF version {version} is not supported (2 or 3).")
        tensor_count = int(reader.unpack("<Q"))
        kv_count = int(reader.unpack("<Q"))
        if tensor_count > MAX_TENSORS or kv_count > MAX_KV:
            raise InvalidInput("The GGUF header declares an implausible number of entries.")
        metadata: dict[str, object] = {}
        for _ in range(kv_count):
            key = reader.string()
            metadata[key] = reader.value(int(reader.unpack("<I")))
    return GgufInfo(version=version, tensor_count=tensor_count, metadata=metadata)

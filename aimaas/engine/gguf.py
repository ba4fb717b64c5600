"""A reader for the GGUF header: checked structure and the metadata key/values.

Only what aimaas needs before handing a file to llama.cpp: is it a GGUF at all, is the header
sane, does it carry a chat template, what context length was it trained for. Arrays are
skipped (the tokenizer's vocabulary is one), strings are bounded.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path

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
    """Reads the header out of a memory map: bounds-checked, no copies for skipped arrays."""

    def __init__(self, buffer: mmap.mmap) -> None:
        self.buffer = buffer
        self.size = len(buffer)
        self.pos = 0

    def _need(self, n: int) -> None:
        if n < 0 or self.pos + n > self.size:
            raise InvalidInput("The GGUF file ends inside its header.")

    def read(self, n: int) -> bytes:
        self._need(n)
        data = self.buffer[self.pos : self.pos + n]
        self.pos += n
        return data

    def unpack(self, fmt: str) -> int | float | bool:
        size = struct.calcsize(fmt)
        self._need(size)
        value: int | float | bool = struct.unpack_from(fmt, self.buffer, self.pos)[0]
        self.pos += size
        return value

    def string(self) -> str:
        length = int(self.unpack("<Q"))
        if length > MAX_STRING:
            raise InvalidInput("The GGUF header has a string longer than the file allows.")
        return self.read(length).decode("utf-8", errors="replace")

    def skip_strings(self, count: int) -> None:
        """Skip an array of strings (a vocabulary: often 100,000+ entries) quickly."""
        buffer, pos, size, unpack_from = self.buffer, self.pos, self.size, struct.unpack_from
        for _ in range(count):
            if pos + 8 > size:
                raise InvalidInput("The GGUF file ends inside its header.")
            pos += 8 + unpack_from("<Q", buffer, pos)[0]
        if pos > size:
            raise InvalidInput("The GGUF file ends inside its header.")
        self.pos = pos

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
                length = count * struct.calcsize(_SCALARS[item_kind])
                self._need(length)
                self.pos += length
            elif item_kind == _STRING:
                self.skip_strings(count)
            else:
                for _ in range(count):
                    self.value(item_kind)
            return None  # arrays are skipped
        raise InvalidInput(f"The GGUF header has an unknown value type {kind}.")


def read_gguf(path: Path) -> GgufInfo:
    """Parse and check a GGUF header; raises InvalidInput for anything that is not one."""
    with path.open("rb") as stream:
        if path.stat().st_size < 4:
            raise InvalidInput(f"{path.name} is not a GGUF file (too short).")
        with mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as buffer:
            return _parse(_Reader(buffer), path.name)


def _parse(reader: _Reader, name: str) -> GgufInfo:
    if reader.read(4) != MAGIC:
        raise InvalidInput(f"{name} is not a GGUF file (bad magic bytes).")
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

"""A reader for the GGUF header: checked structure and the metadata key/values.

Only what aimaas needs before handing a file to llama.cpp: is it a GGUF at all, is the header
sane, does it carry a chat template, what context length was it trained for. Arrays are
skipped (the tokenizer's vocabulary is one), strings are bounded.

``read_gguf(path, tensors=True)`` also reads and checks every tensor's description the way
ggml does before it trusts a file (name, at most 4 dims, no overflowing element count, a known
type whose block divides the row, offsets laid end to end from the aligned data section and
inside the file): uploads are checked that way before they are stored.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path

from aimaas.engine.chat_templates import renders_tools
from aimaas.errors import InvalidInput

MAGIC = b"GGUF"
MAX_STRING = 16 * 1024 * 1024  # chat templates are long; nothing legitimate is longer
MAX_KV = 100_000
MAX_TENSORS = 1_000_000
MAX_ARRAY_DEPTH = 8  # arrays of arrays; none deeper is legitimate
MAX_DIMS = 4  # GGML_MAX_DIMS
MAX_TENSOR_NAME = 63  # GGML_MAX_NAME - 1
DEFAULT_ALIGNMENT = 32
_INT64_MAX = 2**63 - 1

# ggml tensor types: (elements per block, bytes per block), from gguf-py's GGML_QUANT_SIZES.
# Numbers missing here were removed from ggml (files using them are refused).
_QK = 256
GGML_TYPES: dict[int, tuple[int, int]] = {
    0: (1, 4),  # F32
    1: (1, 2),  # F16
    2: (32, 18),  # Q4_0
    3: (32, 20),  # Q4_1
    6: (32, 22),  # Q5_0
    7: (32, 24),  # Q5_1
    8: (32, 34),  # Q8_0
    9: (32, 36),  # Q8_1
    10: (_QK, 2 + 2 + _QK // 16 + _QK // 4),  # Q2_K
    11: (_QK, 2 + _QK // 4 + _QK // 8 + 12),  # Q3_K
    12: (_QK, 2 + 2 + _QK // 2 + 12),  # Q4_K
    13: (_QK, 2 + 2 + _QK // 2 + _QK // 8 + 12),  # Q5_K
    14: (_QK, 2 + _QK // 2 + _QK // 4 + _QK // 16),  # Q6_K
    15: (_QK, 4 + _QK + _QK // 8),  # Q8_K
    16: (_QK, 2 + _QK // 4),  # IQ2_XXS
    17: (_QK, 2 + _QK // 4 + _QK // 32),  # IQ2_XS
    18: (_QK, 2 + _QK // 4 + _QK // 8),  # IQ3_XXS
    19: (_QK, 2 + _QK // 8 + _QK // 16),  # IQ1_S
    20: (32, 18),  # IQ4_NL
    21: (_QK, 2 + _QK // 4 + _QK // 8 + _QK // 32 + 4),  # IQ3_S
    22: (_QK, 2 + _QK // 4 + _QK // 16),  # IQ2_S
    23: (_QK, 2 + 2 + _QK // 2 + _QK // 64),  # IQ4_XS
    24: (1, 1),  # I8
    25: (1, 2),  # I16
    26: (1, 4),  # I32
    27: (1, 8),  # I64
    28: (1, 8),  # F64
    29: (_QK, _QK // 8 + _QK // 16 + _QK // 32),  # IQ1_M
    30: (1, 2),  # BF16
    34: (_QK, 2 + 4 * 13),  # TQ1_0
    35: (_QK, 2 + 64),  # TQ2_0
    39: (32, 17),  # MXFP4
    40: (64, 36),  # NVFP4
    41: (128, 18),  # Q1_0
    42: (64, 18),  # Q2_0
}

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
    # Read with ``tensors=True`` only: the elements of all tensors, and the data bytes.
    parameters: int | None = None
    data_bytes: int | None = None

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
        return renders_tools(self.chat_template)

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

    def value(self, kind: int, depth: int = 0) -> object:
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
                if depth >= MAX_ARRAY_DEPTH:
                    raise InvalidInput("The GGUF header nests arrays too deeply.")
                for _ in range(count):
                    self.value(item_kind, depth + 1)
            return None  # arrays are skipped
        raise InvalidInput(f"The GGUF header has an unknown value type {kind}.")


def read_gguf(path: Path, *, tensors: bool = False) -> GgufInfo:
    """Parse and check a GGUF header; raises InvalidInput for anything that is not one.

    With ``tensors``, the tensor descriptions are read and checked too (see the module doc)."""
    with path.open("rb") as stream:
        if path.stat().st_size < 4:
            raise InvalidInput(f"{path.name} is not a GGUF file (too short).")
        with mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as buffer:
            reader = _Reader(buffer)
            info = _parse(reader, path.name, strict=tensors)
            return _check_tensors(reader, info) if tensors else info


def _parse(reader: _Reader, name: str, *, strict: bool = False) -> GgufInfo:
    if reader.read(4) != MAGIC:
        raise InvalidInput(f"{name} is not a GGUF file (bad magic bytes).")
    version = int(reader.unpack("<I"))
    if version not in (2, 3):
        raise InvalidInput(f"GGUF version {version} is not supported (2 or 3).")
    tensor_count = int(reader.unpack("<Q"))
    kv_count = int(reader.unpack("<Q"))
    if tensor_count > MAX_TENSORS or kv_count > MAX_KV:
        raise InvalidInput("The GGUF header declares an implausible number of entries.")
    # Strictly: every entry takes bytes (a key/value at least 13, a tensor at least 24).
    if strict and kv_count * 13 + tensor_count * 24 > reader.size - reader.pos:
        raise InvalidInput("The GGUF header declares an implausible number of entries.")
    metadata: dict[str, object] = {}
    for _ in range(kv_count):
        key = reader.string()
        if strict and key in metadata:
            raise InvalidInput(f"The GGUF header has the key {key[:64]!r} twice.")
        metadata[key] = reader.value(int(reader.unpack("<I")))
    return GgufInfo(version=version, tensor_count=tensor_count, metadata=metadata)


def _check_tensors(reader: _Reader, info: GgufInfo) -> GgufInfo:
    """Read the tensor descriptions after the metadata and check them as ggml would."""
    alignment = info.metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if (
        not isinstance(alignment, int)
        or isinstance(alignment, bool)
        or alignment <= 0
        or alignment & (alignment - 1)
    ):
        raise InvalidInput("The GGUF header's general.alignment is not a power of two.")
    names: set[str] = set()
    layout: list[tuple[str, int, int]] = []  # name, offset, bytes
    parameters = 0
    for index in range(info.tensor_count):
        raw = reader.read(int(reader.unpack("<Q")))  # bounded by the file
        name = raw.decode("utf-8", errors="replace")
        if len(raw) > MAX_TENSOR_NAME:
            raise InvalidInput(f"GGUF tensor {index} has a name longer than {MAX_TENSOR_NAME}.")
        if name in names:
            raise InvalidInput(f"The GGUF file has the tensor {name!r} twice.")
        names.add(name)
        n_dims = int(reader.unpack("<I"))
        if n_dims > MAX_DIMS:
            raise InvalidInput(f"GGUF tensor {name!r} has {n_dims} dimensions (at most 4).")
        dims = [int(reader.unpack("<Q")) for _ in range(n_dims)]
        elements = 1
        for dim in dims:
            elements *= dim  # Python ints: no overflow here, checked below
            if dim > _INT64_MAX or elements > _INT64_MAX:
                raise InvalidInput(f"GGUF tensor {name!r} has a shape that overflows: {dims}.")
        kind = int(reader.unpack("<I"))
        if kind not in GGML_TYPES:
            raise InvalidInput(f"GGUF tensor {name!r} has an unknown type {kind}.")
        block, block_bytes = GGML_TYPES[kind]
        row = dims[0] if dims else 1
        if row % block:
            raise InvalidInput(
                f"GGUF tensor {name!r} has rows of {row} elements, not a multiple of its "
                f"type's block of {block}."
            )
        offset = int(reader.unpack("<Q"))
        layout.append((name, offset, elements // block * block_bytes))
        parameters += elements
    start = -(-reader.pos // alignment) * alignment if info.tensor_count else reader.pos
    data = reader.size - start
    expected = 0
    for name, offset, size in layout:
        if offset != expected:
            raise InvalidInput(
                f"GGUF tensor {name!r} starts at offset {offset}, not {expected} where the "
                "previous one ends (tensors are laid end to end, aligned)."
            )
        if start + offset + size > reader.size:
            raise InvalidInput(f"GGUF tensor {name!r} lies past the end of the file.")
        expected = offset + -(-size // alignment) * alignment
    return GgufInfo(
        version=info.version,
        tensor_count=info.tensor_count,
        metadata=info.metadata,
        parameters=parameters,
        data_bytes=max(0, data),
    )

"""What the first bytes of an upload say it is; the file's name is never trusted.

One set of signatures (zip, NumPy, images, other archives, pickles, safetensors, GGUF, ONNX,
text), read in two orders: ``sniff_data`` for data files, ``sniff_model`` for model files.
The orders differ where a signature is weak. A CSV can happen to parse as protocol-0 pickle
opcodes, or start with a byte that is a valid ONNX field tag, so for data, text wins; for
model files, which are never CSV, those checks come first and text is only ``model.json``.
"""

from __future__ import annotations

import codecs
import pickletools
from pathlib import Path
from typing import Literal

from aimaas.uploads.refusal import refused

DataKind = Literal["csv", "jsonl", "zip"]
ModelFormat = Literal["safetensors", "gguf", "onnx", "model.json"]

DATA_FORMATS_HINT = (
    "upload CSV with a header row, NPZ (np.savez(path, x=features, y=targets)), JSONL (one "
    '{"text": ..., "label": ...} object per line) or a zip with one folder of PNG/JPEG images '
    "per class"
)
MODEL_FORMATS_HINT = (
    "upload safetensors weights (with their model.json), a GGUF file or an ONNX graph "
    "(with its model.json)"
)
HEAD_BYTES = 64 << 10  # what the sniffers are given of a file

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
ARCHIVE_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"7z\xbc\xaf")
_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff")
_PICKLE_NAMES = (".pkl", ".pickle", ".joblib", ".pt")
_PICKLE_STARTS = frozenset({"PROTO", "MARK", "EMPTY_DICT", "EMPTY_LIST", "EMPTY_TUPLE", "GLOBAL"})
_TEXT_BYTES = frozenset(range(32, 127)) | {9, 10, 13}
_SPACE = " \t\r\n"
# ModelProto's fields and their protobuf wire types (0 varint, 2 length-delimited).
ONNX_FIELDS = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2, 26: 2}


def read_head(path: Path, formats_hint: str) -> bytes:
    """The first bytes the sniffers judge a file by; an empty file is refused, naming the
    formats that are accepted."""
    if path.stat().st_size == 0:
        raise refused(f"The file is empty; {formats_hint}.")
    with path.open("rb") as stream:
        return stream.read(HEAD_BYTES)


def sniff_data(head: bytes, filename: str) -> DataKind:
    """The kind of a data file; refuses pickles, lone arrays and images, other archives."""
    if head.startswith(ZIP_MAGIC):
        return "zip"
    if head.startswith(b"\x93NUMPY"):
        raise refused("A single .npy array is not accepted; save np.savez(path, x=..., y=...).")
    if head.startswith(_IMAGE_MAGIC):
        raise refused("A single image is not a dataset; zip one folder of images per class.")
    if head.startswith(ARCHIVE_MAGIC) or head[257:262] == b"ustar":
        raise refused("Only zip archives are accepted (not tar, gzip, bzip2, xz or 7z); zip it.")
    if head[:1] == b"\x80" or filename.lower().endswith(_PICKLE_NAMES):
        raise refused(f"Pickle files are never loaded; {DATA_FORMATS_HINT}.")
    text = decode_head(head)
    if text is None:
        raise refused(f"Unrecognised file format (binary data); {DATA_FORMATS_HINT}.")
    stripped = text.lstrip("\ufeff" + _SPACE)
    if not stripped:
        raise refused(f"The file holds only whitespace; {DATA_FORMATS_HINT}.")
    if stripped.startswith("{"):
        return "jsonl"
    if stripped.startswith("["):
        raise refused("A JSON array is not accepted; write one JSON object per line (JSONL).")
    return "csv"


def sniff_model(head: bytes, filename: str) -> ModelFormat:
    """The format of a model file; refuses pickles, archives and the rest."""
    if head.startswith(ZIP_MAGIC):
        if b"data.pkl" in head or b".pkl" in head[:1024]:
            raise refused(
                "This is a PyTorch torch.save file (a zip holding a pickle); pickles are never "
                f"loaded. Save the weights with safetensors instead; {MODEL_FORMATS_HINT}."
            )
        raise refused(f"Archives are not model files; {MODEL_FORMATS_HINT}.")
    json_start = head.lstrip(b"\xef\xbb\xbf" + _SPACE.encode())[:1] == b"{"
    # Before the pickle check: a header length's first byte can be a pickle opcode. A JSON
    # text can have a '{' at byte 8 too; a real header length (< 2**32) cannot be text.
    text = json_start and head[4:8] != bytes(4)
    if head[8:9] == b"{" and not text:
        return "safetensors"
    if head.startswith(b"GGUF"):
        return "gguf"
    if looks_like_pickle(head):
        raise refused(
            "This is a Python pickle (torch.save, joblib or pickle); pickles are never loaded. "
            f"Save the weights with safetensors instead; {MODEL_FORMATS_HINT}."
        )
    if json_start:
        return "model.json"
    if _looks_like_onnx(head):
        return "onnx"
    name = filename.lower()
    hint = ""
    if name.endswith((".safetensors", ".gguf", ".onnx", ".json")):
        hint = f" (its name says {name.rsplit('.', 1)[-1]}, its content does not)"
    raise refused(f"Unrecognised model file{hint}; {MODEL_FORMATS_HINT}.")


def decode_head(head: bytes) -> str | None:
    """The start of a text file, or None for binary data. Mostly-ASCII text with a few bytes
    that are not UTF-8 counts as text: the line reader then names the line to fix."""
    if b"\x00" in head:
        return None
    try:  # incremental: a character cut in two at the end of the head is no error
        return codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        if sum(byte in _TEXT_BYTES for byte in head) >= 0.9 * len(head):
            return head.decode("utf-8", "replace")
        return None


def looks_like_pickle(head: bytes) -> bool:
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


def varint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    """A protobuf varint at ``pos``: (value, the position after it); ValueError if cut off."""
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


def _looks_like_onnx(head: bytes) -> bool:
    """An ONNX ModelProto starts with a known field of the right wire type."""
    try:
        tag, _ = varint(head, 0)
    except ValueError:
        return False
    return ONNX_FIELDS.get(tag >> 3) == tag & 7

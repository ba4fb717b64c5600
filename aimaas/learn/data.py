"""Uploaded data files: judged by their content, checked against hostile input, and read into
``Dataset``s.

Four formats: CSV with a header row, NPZ (``np.savez(path, x=..., y=...)``), JSONL (one
``{"text": ..., "label": ...}`` object per line) and a zip of image folders (one folder per
class). ``inspect_upload`` runs once, on upload, and answers a JSON-safe summary that the
registry keeps; ``read_dataset`` reads a stored file for a job. Every refusal is an
``InvalidInput`` that names the problem and the fix. Nothing is unpickled.
"""

from __future__ import annotations

import codecs
import csv
import itertools
import json
import math
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, NoReturn

import numpy as np
from numpy.lib import format as npy_format

from aimaas.errors import InvalidInput
from aimaas.learn.dataset import Dataset
from aimaas.learn.images import MAX_PIXELS, decode_image

MAX_LINE_BYTES = 1 << 20  # one CSV or JSONL line
MAX_COLUMNS = 10_000
MAX_ZIP_ENTRIES = 100_000
MAX_CENTRAL_DIRECTORY_BYTES = 16 << 20  # bounds the work of listing an archive
MAX_ENTRY_NAME = 1024
MAX_UNCOMPRESSED_BYTES = 2 << 30  # all entries of an archive together
MAX_COMPRESSION_RATIO = 100
RATIO_FLOOR_BYTES = 1 << 20  # smaller entries may compress well without doing harm
MAX_IMAGE_FILE_BYTES = 64 << 20
MAX_IMAGES_ARRAY_BYTES = 2 << 30  # the decoded [N, H, W, C] array
MAX_LABEL_INT = 2**63 - 1

FORMATS_HINT = (
    "upload CSV with a header row, NPZ (np.savez(path, x=features, y=targets)), JSONL (one "
    '{"text": ..., "label": ...} object per line) or a zip with one folder of PNG/JPEG images '
    "per class"
)
_HEAD_BYTES = 64 << 10
_CHUNK = 1 << 20
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_ARCHIVE_SUFFIXES = (".zip", ".npz", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".zst")
_ARCHIVE_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"7z\xbc\xaf")
_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)


def _refuse(message: str) -> InvalidInput:
    return InvalidInput(message, param="file")


# --- sniffing ---------------------------------------------------------------------------------


def inspect_upload(path: Path, filename: str) -> dict[str, Any]:
    """Check an uploaded file and summarise it (stored as the file's ``details``).

    The format is judged from the content; ``filename`` only sharpens an error message."""
    if path.stat().st_size == 0:
        raise _refuse(f"The file is empty; {FORMATS_HINT}.")
    with path.open("rb") as stream:
        head = stream.read(_HEAD_BYTES)
    kind = _sniff(head, filename)
    if kind == "csv":
        return _inspect_csv(path)
    if kind == "jsonl":
        return _inspect_jsonl(path)
    with _zip_errors(), _open_zip(path) as archive:
        entries = _checked_entries(archive)
        if _is_npz(entries):
            return _inspect_npz(archive, entries)
        return _inspect_images(archive, entries)


def _sniff(head: bytes, filename: str) -> str:
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.startswith(b"\x93NUMPY"):
        raise _refuse("A single .npy array is not accepted; save np.savez(path, x=..., y=...).")
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff")):
        raise _refuse("A single image is not a dataset; zip one folder of images per class.")
    if head.startswith(_ARCHIVE_MAGIC) or head[257:262] == b"ustar":
        raise _refuse("Only zip archives are accepted (not tar, gzip, bzip2, xz or 7z); zip it.")
    if head[:1] == b"\x80" or filename.lower().endswith((".pkl", ".pickle", ".joblib", ".pt")):
        raise _refuse(f"Pickle files are never loaded; {FORMATS_HINT}.")
    text = _decode_head(head)
    if text is None:
        raise _refuse(f"Unrecognised file format (binary data); {FORMATS_HINT}.")
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped:
        raise _refuse(f"The file holds only whitespace; {FORMATS_HINT}.")
    if stripped.startswith("{"):
        return "jsonl"
    if stripped.startswith("["):
        raise _refuse("A JSON array is not accepted; write one JSON object per line (JSONL).")
    return "csv"


_TEXT_BYTES = frozenset(range(32, 127)) | {9, 10, 13}


def _decode_head(head: bytes) -> str | None:
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


# --- text lines (CSV, JSONL) -----------------------------------------------------------------


def _lines(path: Path) -> Iterator[str]:
    """The file's lines, decoded, each with its newline; a line over MAX_LINE_BYTES is refused
    without being held whole."""
    return itertools.chain.from_iterable(_line_blocks(path))


def _line_blocks(path: Path) -> Iterator[list[str]]:
    with path.open("rb") as stream:
        before = 0  # lines before the block
        carry = b""  # a line not ended in the previous block
        while block := stream.read(_CHUNK):
            data = carry + block
            cut = data.rfind(b"\n") + 1
            carry, data = data[cut:], data[:cut]
            if len(carry) > MAX_LINE_BYTES:
                _too_long(before + data.count(b"\n") + 1)
            if data:
                yield _decode_lines(data, before)
                before += data.count(b"\n")
        if carry:
            yield _decode_lines(carry, before)


def _too_long(line: int) -> NoReturn:
    raise _refuse(
        f"Line {line} is longer than {MAX_LINE_BYTES} bytes; split it or check that the file "
        "uses newlines."
    )


def _decode_lines(data: bytes, before: int) -> list[str]:
    parts = data.split(b"\n")
    longest = max(map(len, parts))
    if longest > MAX_LINE_BYTES:
        _too_long(before + 1 + next(i for i, p in enumerate(parts) if len(p) == longest))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = before + data.count(b"\n", 0, exc.start) + 1
        raise _refuse(f"Line {line} is not UTF-8 text; save the file as UTF-8.") from None
    if before == 0:
        text = text.removeprefix("\ufeff")
    lines = text.split("\n")
    last = lines.pop()  # "" after a final newline, else a line without one
    ended = [line + "\n" for line in lines]
    return [*ended, last] if last else ended


def _csv_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) per non-blank row, the header first."""
    reader = csv.reader(_lines(path), strict=True)
    try:
        for row in reader:
            if row:
                yield reader.line_num, row
    except csv.Error as exc:
        raise _refuse(
            f"Line {reader.line_num} is not valid CSV ({exc}); fix its quoting."
        ) from None


def _cell_problem(cell: str) -> str | None:
    """Why a cell cannot be a feature value, or None for a finite number."""
    try:
        value = float(cell)
    except ValueError:
        return "an empty cell" if not cell.strip() else f"the non-numeric value {cell[:40]!r}"
    return None if math.isfinite(value) else f"{cell.strip()[:40]!r} (NaN or infinity)"


# --- CSV ---------------------------------------------------------------------------------------


def _check_header(columns: list[str]) -> None:
    if len(columns) > MAX_COLUMNS:
        raise _refuse(f"The header has {len(columns)} columns; at most {MAX_COLUMNS} are accepted.")
    if len(columns) < 2:
        raise _refuse(
            "A CSV needs at least two comma-separated columns (features and a target) and a "
            "header row naming them."
        )
    for index, name in enumerate(columns, 1):
        if not name:
            raise _refuse(f"Column {index} of the header (line 1) has no name; name every column.")
    if all(_cell_problem(name) is None for name in columns):
        raise _refuse(
            "The first line holds only numbers; add a header row naming the columns "
            "(e.g. 'f1,f2,label')."
        )
    seen: set[str] = set()
    for name in columns:
        if name in seen:
            raise _refuse(f"The header names column {name[:64]!r} twice; make the names unique.")
        seen.add(name)


_BATCH_ROWS = 8192


def _csv_table(path: Path) -> tuple[list[str], Iterator[tuple[list[int], list[tuple[str, ...]]]]]:
    """The checked header, and the rows in batches: (line numbers, one tuple per column)."""
    rows = _csv_rows(path)
    _, header = next(rows, (0, []))
    columns = [name.strip() for name in header]
    _check_header(columns)

    def batches() -> Iterator[tuple[list[int], list[tuple[str, ...]]]]:
        lines: list[int] = []
        batch: list[list[str]] = []
        for line, row in rows:
            if len(row) != len(columns):
                raise _refuse(
                    f"Line {line} has {len(row)} values but the header has {len(columns)} "
                    "columns; every row needs one value per column."
                )
            lines.append(line)
            batch.append(row)
            if len(batch) == _BATCH_ROWS:
                yield lines, list(zip(*batch, strict=True))
                lines, batch = [], []
        if batch:
            yield lines, list(zip(*batch, strict=True))

    return columns, batches()


def _floats(cells: tuple[str, ...]) -> tuple[np.ndarray, None] | tuple[None, tuple[int, str]]:
    """The cells as finite float64s, or the index and problem of the first cell that is not."""
    try:
        values = np.array(cells, dtype=np.float64)
    except ValueError:
        pass
    else:
        if np.isfinite(values).all():
            return values, None
    for index, cell in enumerate(cells):
        problem = _cell_problem(cell)
        if problem is not None:
            return None, (index, problem)
    raise AssertionError("unreachable: a cell failed to parse but none has a problem")


def _inspect_csv(path: Path) -> dict[str, Any]:
    columns, batches = _csv_table(path)
    # Column index -> (line, problem) of its first cell that is not a finite number. Only one
    # column may have one: it can only be the target, every other column is a feature.
    suspect: dict[int, tuple[int, str]] = {}
    count = 0
    for lines, cells in batches:
        count += len(lines)
        found = []
        for index, column in enumerate(cells):
            if index not in suspect:
                _, bad = _floats(column)
                if bad is not None:
                    found.append((lines[bad[0]], index, bad[1]))
        for line, index, problem in sorted(found):
            if suspect:
                ((other, (other_line, other_problem)),) = suspect.items()
                raise _refuse(
                    f"Column {columns[index][:64]!r} has {problem} on line {line}, and column "
                    f"{columns[other][:64]!r} has {other_problem} on line {other_line}. Only "
                    "one column, the target, may hold text or missing values; feature columns "
                    "need finite numbers: encode categories as numbers, fill or drop gaps."
                )
            suspect[index] = (line, problem)
    if count == 0:
        raise _refuse("The CSV has a header but no data rows.")
    return {
        "format": "csv",
        "rows": count,
        "columns": columns,
        "numeric_columns": [name for i, name in enumerate(columns) if i not in suspect],
    }


def _read_csv(path: Path, details: dict[str, Any], target: str | None) -> Dataset:
    columns, batches = _csv_table(path)
    listing = ", ".join(repr(name[:64]) for name in columns[:50])
    if target is None:
        raise InvalidInput(
            f"A CSV dataset needs 'target': the column to predict, one of {listing}.",
            param="target",
        )
    if target not in columns:
        raise InvalidInput(
            f"No column {target[:64]!r} in the file; the columns are {listing}.", param="target"
        )
    numeric = set(details.get("numeric_columns", columns))
    text_features = [name for name in columns if name not in numeric and name != target]
    if text_features:
        raise InvalidInput(
            f"Column {text_features[0][:64]!r} is not all numbers, so it can only be the "
            f"target, not a feature next to target {target[:64]!r}; choose it as the target or "
            "encode it as numbers.",
            param="target",
        )
    at = columns.index(target)
    blocks: list[np.ndarray] = []
    labels: list[str] = []
    for lines, cells in batches:
        block = np.empty((len(lines), len(columns) - 1), dtype=np.float64)
        for slot, index in enumerate(i for i in range(len(columns)) if i != at):
            values, bad = _floats(cells[index])
            if bad is not None:
                raise InvalidInput(
                    f"Feature column {columns[index][:64]!r} has {bad[1]} on line "
                    f"{lines[bad[0]]}; features need finite numbers.",
                    param="target",
                )
            block[:, slot] = values
        for line, raw in zip(lines, cells[at], strict=True):
            label = raw.strip()
            if not label or label.lower() in ("nan", "+nan", "-nan"):
                raise InvalidInput(
                    f"The target column {target[:64]!r} is empty or NaN on line {line}; fill "
                    "or drop the rows without a target.",
                    param="target",
                )
            labels.append(label)
        blocks.append(block)
    features = np.concatenate(blocks) if blocks else np.empty((0, len(columns) - 1))
    return Dataset(
        kind="table",
        features=features,
        targets=_csv_targets(labels, target, target in numeric),
        feature_names=[name for name in columns if name != target],
        target_name=target,
    )


def _csv_targets(labels: list[str], target: str, numeric: bool) -> np.ndarray:
    if not numeric:
        return np.array(labels, dtype=str)
    values = np.array(labels, dtype=np.float64)
    if not np.isfinite(values).all():
        raise InvalidInput(f"The target column {target[:64]!r} holds infinity.", param="target")
    if np.all(values == np.round(values)) and np.all(np.abs(values) < 2**53):
        return values.astype(np.int64)
    return values


# --- JSONL -------------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _jsonl_records(path: Path) -> Iterator[tuple[int, str, str | int | None]]:
    """(line, text, label or None) per non-blank line, every line checked."""
    for number, line in enumerate(_lines(path), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line, parse_constant=_reject_constant)
        except RecursionError:
            raise _refuse(f"Line {number} is nested too deeply.") from None
        except ValueError as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise _refuse(
                f"Line {number} is not valid JSON ({reason}); write one JSON object per line."
            ) from None
        if not isinstance(value, dict):
            raise _refuse(
                f'Line {number} is not a JSON object; each line needs {{"text": "...", '
                '"label": ...}.'
            )
        text = value.get("text")
        if not isinstance(text, str):
            raise _refuse(f"Line {number} lacks a string 'text' field; every line needs one.")
        label = value.get("label")
        if label is not None and (
            isinstance(label, bool)
            or not isinstance(label, str | int)
            or label == ""
            or (isinstance(label, int) and abs(label) > MAX_LABEL_INT)
        ):
            raise _refuse(f"Line {number}: 'label' must be a non-empty string or a 64-bit integer.")
        yield number, text, label


def _inspect_jsonl(path: Path) -> dict[str, Any]:
    rows = 0
    labelled: bool | None = None
    label_type: type | None = None
    for number, _, label in _jsonl_records(path):
        rows += 1
        if labelled is None:
            labelled = label is not None
        if labelled != (label is not None):
            state = "has no" if label is None else "has a"
            raise _refuse(
                f"Line {number} {state} 'label' unlike the first line; label every line or none."
            )
        if label is not None:
            label_type = label_type or type(label)
            if type(label) is not label_type:
                raise _refuse(
                    f"Line {number}: labels must be all strings or all integers, not a mix."
                )
    if rows == 0:
        raise _refuse("The JSONL file has no records.")
    return {"format": "jsonl", "rows": rows, "labelled": bool(labelled)}


def _read_jsonl(path: Path) -> Dataset:
    texts: list[str] = []
    labels: list[str | int] = []
    for _, text, label in _jsonl_records(path):
        texts.append(text)
        if label is not None:
            labels.append(label)
    if not texts:
        raise _refuse("The JSONL file has no records.")
    if labels and len(labels) != len(texts):
        raise _refuse("Some JSONL lines have a 'label' and some do not; label every line or none.")
    if not labels:
        return Dataset(kind="text", texts=texts)
    targets = np.array(labels, dtype=np.int64 if isinstance(labels[0], int) else str)
    return Dataset(kind="text", texts=texts, targets=targets)


# --- zip archives ------------------------------------------------------------------------------


@contextmanager
def _zip_errors() -> Iterator[None]:
    """Whatever a damaged archive makes the zip or zlib modules raise becomes a 400."""
    try:
        yield
    except InvalidInput:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        raise _refuse(
            f"The zip archive is damaged or unsupported ({type(exc).__name__}); create it again "
            "with plain deflate compression and no password."
        ) from None
    except (OSError, ValueError, struct.error) as exc:
        raise _refuse(
            f"The zip archive is damaged ({type(exc).__name__}); create it again."
        ) from None


def _central_directory(stream: BinaryIO) -> tuple[int, int]:
    """(entries, bytes) of the central directory, read from the end record before zipfile
    parses it, so a huge directory is refused without being listed."""
    end = stream.seek(0, 2)
    tail_size = min(end, 22 + 65535)
    stream.seek(end - tail_size)
    tail = stream.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise _refuse("The zip archive is damaged (no central directory); create it again.")
    entries, size = struct.unpack_from("<HI", tail, at + 10)
    if entries == 0xFFFF or size == 0xFFFFFFFF:  # ZIP64: the real figures are in its record
        record_at = end - tail_size + at - 20 - 56
        if record_at < 0:
            raise _refuse("The zip archive is damaged (ZIP64 record missing); create it again.")
        stream.seek(record_at)
        record = stream.read(76)
        if record[:4] != b"PK\x06\x06" or record[56:60] != b"PK\x06\x07":
            raise _refuse("The zip archive's ZIP64 layout is not supported; create it again.")
        entries, size = struct.unpack_from("<QQ", record, 32)
    return entries, size


@contextmanager
def _open_zip(path: Path) -> Iterator[zipfile.ZipFile]:
    with path.open("rb") as stream:
        entries, size = _central_directory(stream)
        if entries > MAX_ZIP_ENTRIES:
            raise _refuse(
                f"The archive lists {entries} entries; at most {MAX_ZIP_ENTRIES} are accepted."
            )
        if size > MAX_CENTRAL_DIRECTORY_BYTES:
            raise _refuse(
                f"The archive's list of entries takes {size} bytes; at most "
                f"{MAX_CENTRAL_DIRECTORY_BYTES} are accepted (fewer files, shorter names)."
            )
        stream.seek(0)
        with zipfile.ZipFile(stream) as archive:
            yield archive


def _check_name(info: zipfile.ZipInfo) -> None:
    name = info.orig_filename
    shown = name[:200]
    if "\x00" in name or len(name) > MAX_ENTRY_NAME:
        raise _refuse(f"Entry {shown!r} has a NUL byte or a name over {MAX_ENTRY_NAME} characters.")
    if name.startswith("/") or "\\" in name or (len(name) > 1 and name[1] == ":"):
        raise _refuse(
            f"Entry {shown!r} has an absolute path or backslashes; archive relative paths only."
        )
    parts = name.rstrip("/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise _refuse(f"Entry {shown!r} steps outside its folder ('..' or empty parts); remove it.")


def _check_entry(info: zipfile.ZipInfo) -> None:
    _check_name(info)
    shown = info.orig_filename[:200]
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise _refuse(f"Entry {shown!r} is a symbolic link; archive the files themselves.")
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise _refuse(f"Entry {shown!r} is not a regular file or folder; remove it.")
    if info.flag_bits & 0x1:
        raise _refuse(f"Entry {shown!r} is encrypted; upload an archive without a password.")
    if info.compress_type not in _COMPRESSIONS:
        raise _refuse(f"Entry {shown!r} uses an unsupported compression; use deflate.")
    if info.filename.lower().endswith(_ARCHIVE_SUFFIXES):
        raise _refuse(f"Entry {shown!r} is an archive; nested archives are not unpacked.")
    if info.file_size > RATIO_FLOOR_BYTES and info.file_size > MAX_COMPRESSION_RATIO * max(
        info.compress_size, 1
    ):
        raise _refuse(
            f"Entry {shown!r} expands more than {MAX_COMPRESSION_RATIO} times (a zip bomb?); "
            "such archives are refused."
        )


def _checked_entries(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """Every entry checked (names, types, sizes, ratios); the files, sorted by name."""
    entries = archive.infolist()
    if len(entries) > MAX_ZIP_ENTRIES:
        raise _refuse(f"The archive has {len(entries)} entries; at most {MAX_ZIP_ENTRIES}.")
    names: set[str] = set()
    total = packed = 0
    for info in entries:
        _check_entry(info)
        if info.filename in names:
            raise _refuse(f"Entry {info.filename[:200]!r} appears twice; keep one.")
        names.add(info.filename)
        total += info.file_size
        packed += info.compress_size
    if total > MAX_UNCOMPRESSED_BYTES:
        raise _refuse(
            f"The archive expands to {total} bytes; at most {MAX_UNCOMPRESSED_BYTES} are accepted."
        )
    if total > RATIO_FLOOR_BYTES and total > MAX_COMPRESSION_RATIO * max(packed, 1):
        raise _refuse(
            f"The archive expands more than {MAX_COMPRESSION_RATIO} times (a zip bomb?); such "
            "archives are refused."
        )
    return sorted((e for e in entries if not e.is_dir()), key=lambda e: e.filename)


class _Budget:
    """Counts the bytes really decompressed, whatever the archive's headers claim."""

    def __init__(self) -> None:
        self.used = 0

    def read(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
        if info.file_size > limit:
            raise _refuse(f"Entry {info.filename[:200]!r} is larger than {limit} bytes.")
        with archive.open(info) as stream:
            data = stream.read(info.file_size + 1)
        self.take(len(data), info)
        if len(data) != info.file_size:
            raise _refuse(f"Entry {info.filename[:200]!r} does not match its declared size.")
        return data

    def take(self, count: int, info: zipfile.ZipInfo) -> None:
        self.used += count
        if self.used > MAX_UNCOMPRESSED_BYTES:
            raise _refuse(
                f"Entry {info.filename[:200]!r} takes the archive past {MAX_UNCOMPRESSED_BYTES} "
                "bytes decompressed (a zip bomb?)."
            )


# --- NPZ ---------------------------------------------------------------------------------------


def _is_npz(entries: list[zipfile.ZipInfo]) -> bool:
    return bool(entries) and all(e.filename.endswith(".npy") for e in entries)


def _npy_header(stream: BinaryIO, name: str) -> tuple[tuple[int, ...], np.dtype[Any]]:
    try:
        version = npy_format.read_magic(stream)
        if version == (1, 0):
            shape, _, dtype = npy_format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, _, dtype = npy_format.read_array_header_2_0(stream)
        else:
            raise _refuse(f"Array {name!r} uses .npy version {version}; save with np.savez.")
    except InvalidInput:
        raise
    except (ValueError, TypeError, SyntaxError) as exc:
        raise _refuse(
            f"Array {name!r} is not a valid .npy array ({exc}); save with np.savez."
        ) from None
    return tuple(int(n) for n in shape), dtype


def _check_npy(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, kinds: str, budget: _Budget
) -> tuple[list[int], str]:
    """Shape and dtype of one array, its values checked while they stream past."""
    with archive.open(info) as stream:
        shape, dtype = _npy_header(stream, name)  # type: ignore[arg-type]
        if dtype.hasobject:
            raise _refuse(
                f"Array {name!r} holds Python objects, which would need unpickling; save "
                "numeric (or, for y, string) arrays."
            )
        if dtype.kind not in kinds or dtype.fields is not None or dtype.subdtype is not None:
            raise _refuse(f"Array {name!r} has dtype {dtype.str}; save it as numbers.")
        nbytes = math.prod(shape) * dtype.itemsize
        if stream.tell() + nbytes != info.file_size:
            raise _refuse(f"Array {name!r} is truncated or has extra bytes; save it again.")
        step = max(1, _CHUNK // max(dtype.itemsize, 1)) * max(dtype.itemsize, 1)
        left = nbytes
        while left:
            chunk = stream.read(min(step, left))
            if not chunk:
                raise _refuse(f"Array {name!r} is truncated; save it again.")
            budget.take(len(chunk), info)
            left -= len(chunk)
            if dtype.kind == "f":
                values = np.frombuffer(chunk, dtype=dtype)
                if not np.isfinite(values).all():
                    raise _refuse(f"Array {name!r} holds NaN or infinity; clean the data.")
                if name == "x" and values.size and float(np.abs(values).max()) > _FLOAT32_MAX:
                    raise _refuse("Array 'x' holds values beyond the float32 range; scale them.")
    return list(shape), dtype.str


def _npz_arrays(entries: list[zipfile.ZipInfo]) -> dict[str, zipfile.ZipInfo]:
    arrays = {e.filename.removesuffix(".npy"): e for e in entries}
    if "x" not in arrays:
        found = ", ".join(repr(n[:64]) for n in list(arrays)[:20])
        raise _refuse(
            f"The NPZ has no array 'x' (it has {found}); save np.savez(path, x=features, "
            "y=targets)."
        )
    return arrays


def _inspect_npz(archive: zipfile.ZipFile, entries: list[zipfile.ZipInfo]) -> dict[str, Any]:
    arrays = _npz_arrays(entries)
    budget = _Budget()
    x_shape, x_dtype = _check_npy(archive, arrays["x"], "x", "biuf", budget)
    if not x_shape or x_shape[0] == 0:
        raise _refuse("Array 'x' needs a first dimension with at least one row: [N, ...].")
    details: dict[str, Any] = {
        "format": "npz",
        "rows": x_shape[0],
        "x_shape": x_shape,
        "x_dtype": x_dtype,
        "y_shape": None,
        "y_dtype": None,
    }
    if "y" in arrays:
        y_shape, y_dtype = _check_npy(archive, arrays["y"], "y", "biufU", budget)
        if len(y_shape) != 1:
            raise _refuse(f"Array 'y' has shape {y_shape}; it must be [N]: one target per row.")
        if y_shape[0] != x_shape[0]:
            raise _refuse(
                f"'x' has {x_shape[0]} rows but 'y' has {y_shape[0]}; they need one each."
            )
        details.update(y_shape=y_shape, y_dtype=y_dtype)
    return details


def _read_npz(path: Path) -> Dataset:
    with _zip_errors():
        with _open_zip(path) as archive:
            _npz_arrays(_checked_entries(archive))
        with np.load(path, allow_pickle=False) as npz:
            features = np.asarray(npz["x"]).astype(np.float32)
            targets = np.asarray(npz["y"]) if "y" in npz.files else None
    return Dataset(kind="tensor", features=features, targets=targets)


# --- images ------------------------------------------------------------------------------------


def _hidden(name: str) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in name.split("/"))


def _image_entries(entries: list[zipfile.ZipInfo]) -> list[tuple[str, zipfile.ZipInfo]]:
    """(class, entry) per image, sorted by path; one folder per class, optionally inside a
    single top folder."""
    files = [e for e in entries if not _hidden(e.filename)]
    parts = [e.filename.split("/") for e in files]
    if parts and all(len(p) == 3 for p in parts) and len({p[0] for p in parts}) == 1:
        parts = [p[1:] for p in parts]
    images = []
    for info, path in zip(files, parts, strict=True):
        shown = info.filename[:200]
        if len(path) != 2:
            raise _refuse(
                f"Entry {shown!r} is not directly in a class folder; the archive needs one "
                "folder per class holding its images (cat/1.png, dog/2.jpg)."
            )
        if not path[1].lower().endswith(_IMAGE_SUFFIXES):
            raise _refuse(f"Entry {shown!r} is not a .png or .jpg image; remove it.")
        images.append((path[0], info))
    classes = sorted({label for label, _ in images})
    if len(classes) < 2:
        found = f"only {classes[0][:64]!r}" if classes else "no class folders"
        raise _refuse(
            f"The archive has {found}; a classifier needs at least 2 class folders of images."
        )
    return images


def _decode_entry(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    budget: _Budget,
    mode: Any = None,
    size: tuple[int, int] | None = None,
) -> np.ndarray:
    data = budget.read(archive, info, MAX_IMAGE_FILE_BYTES)
    if data.startswith(_ARCHIVE_MAGIC):
        raise _refuse(f"Entry {info.filename[:200]!r} is an archive; nested archives are refused.")
    try:
        return decode_image(data, mode=mode, size=size, param=f"Entry {info.filename[:200]!r}")
    except InvalidInput as exc:
        raise _refuse(
            f"{exc.message} Use PNG or JPEG images of at most {MAX_PIXELS} pixels."
        ) from None


def _inspect_images(archive: zipfile.ZipFile, entries: list[zipfile.ZipInfo]) -> dict[str, Any]:
    images = _image_entries(entries)
    budget = _Budget()
    grey = True
    size: tuple[int, int] = (0, 0)
    counts: dict[str, int] = {}
    for index, (label, info) in enumerate(images):
        array = _decode_entry(archive, info, budget)
        if index == 0:
            size = (int(array.shape[0]), int(array.shape[1]))
        grey = grey and array.shape[2] == 1
        counts[label] = counts.get(label, 0) + 1
    channels = 1 if grey else 3
    if len(images) * size[0] * size[1] * channels > MAX_IMAGES_ARRAY_BYTES:
        raise _refuse(
            f"{len(images)} images of {size[0]}x{size[1]} pixels decode to more than "
            f"{MAX_IMAGES_ARRAY_BYTES} bytes; make the images smaller (the first sets the size)."
        )
    return {
        "format": "images",
        "rows": len(images),
        "classes": sorted(counts),
        "class_counts": counts,
        "image_size": list(size),
        "mode": "L" if grey else "RGB",
    }


def _read_images(path: Path, details: dict[str, Any]) -> Dataset:
    mode = "L" if details.get("mode") == "L" else "RGB"
    height, width = (int(n) for n in details["image_size"])
    with _zip_errors(), _open_zip(path) as archive:
        images = _image_entries(_checked_entries(archive))
        features = np.empty((len(images), height, width, 1 if mode == "L" else 3), np.uint8)
        budget = _Budget()
        for index, (_, info) in enumerate(images):
            features[index] = _decode_entry(archive, info, budget, mode, (height, width))
    targets = np.array([label for label, _ in images], dtype=str)
    return Dataset(kind="images", features=features, targets=targets)


# --- reading -----------------------------------------------------------------------------------


def read_dataset(path: Path, details: dict[str, Any], *, target: str | None) -> Dataset:
    """Read a stored upload whose ``details`` came from ``inspect_upload``.

    ``target`` names the CSV column to predict (required for CSV, ignored otherwise)."""
    readers: dict[str, Callable[[], Dataset]] = {
        "csv": lambda: _read_csv(path, details, target),
        "npz": lambda: _read_npz(path),
        "jsonl": lambda: _read_jsonl(path),
        "images": lambda: _read_images(path, details),
    }
    reader = readers.get(str(details.get("format")))
    if reader is None:
        raise _refuse(f"The file's format is unknown; {FORMATS_HINT}.")
    return reader()

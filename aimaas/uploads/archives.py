"""Zip archives (image folders, NPZ) opened safely: the central directory is sized before
zipfile lists it; every entry's name, type, compression and ratio is checked before a byte
is inflated; and a ``Budget`` counts the bytes really decompressed, whatever the headers
claim. Whatever a damaged archive makes zipfile or zlib raise becomes a 400."""

from __future__ import annotations

import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from aimaas.errors import InvalidInput
from aimaas.uploads.limits import UploadLimits
from aimaas.uploads.refusal import refused

_ARCHIVE_SUFFIXES = (".zip", ".npz", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".zst")
_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)


@contextmanager
def zip_errors() -> Iterator[None]:
    """Whatever a damaged archive makes the zip or zlib modules raise becomes a 400."""
    try:
        yield
    except InvalidInput:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        raise refused(
            f"The zip archive is damaged or unsupported ({type(exc).__name__}); create it again "
            "with plain deflate compression and no password."
        ) from None
    except (OSError, ValueError, struct.error) as exc:
        raise refused(
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
        raise refused("The zip archive is damaged (no central directory); create it again.")
    entries, size = struct.unpack_from("<HI", tail, at + 10)
    if entries == 0xFFFF or size == 0xFFFFFFFF:  # ZIP64: the real figures are in its record
        record_at = end - tail_size + at - 20 - 56
        if record_at < 0:
            raise refused("The zip archive is damaged (ZIP64 record missing); create it again.")
        stream.seek(record_at)
        record = stream.read(76)
        if record[:4] != b"PK\x06\x06" or record[56:60] != b"PK\x06\x07":
            raise refused("The zip archive's ZIP64 layout is not supported; create it again.")
        entries, size = struct.unpack_from("<QQ", record, 32)
    return entries, size


@contextmanager
def open_zip(path: Path, limits: UploadLimits) -> Iterator[zipfile.ZipFile]:
    with path.open("rb") as stream:
        entries, size = _central_directory(stream)
        if entries > limits.max_zip_entries:
            raise refused(
                f"The archive lists {entries} entries; at most {limits.max_zip_entries} are "
                "accepted."
            )
        if size > limits.max_central_directory_bytes:
            raise refused(
                f"The archive's list of entries takes {size} bytes; at most "
                f"{limits.max_central_directory_bytes} are accepted (fewer files, shorter names)."
            )
        stream.seek(0)
        with zipfile.ZipFile(stream) as archive:
            yield archive


def _check_name(info: zipfile.ZipInfo, limits: UploadLimits) -> None:
    name = info.orig_filename
    shown = name[:200]
    if "\x00" in name or len(name) > limits.max_entry_name_chars:
        raise refused(
            f"Entry {shown!r} has a NUL byte or a name over {limits.max_entry_name_chars} "
            "characters."
        )
    if name.startswith("/") or "\\" in name or (len(name) > 1 and name[1] == ":"):
        raise refused(
            f"Entry {shown!r} has an absolute path or backslashes; archive relative paths only."
        )
    parts = name.rstrip("/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise refused(f"Entry {shown!r} steps outside its folder ('..' or empty parts); remove it.")


def _check_entry(info: zipfile.ZipInfo, limits: UploadLimits) -> None:
    _check_name(info, limits)
    shown = info.orig_filename[:200]
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise refused(f"Entry {shown!r} is a symbolic link; archive the files themselves.")
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise refused(f"Entry {shown!r} is not a regular file or folder; remove it.")
    if info.flag_bits & 0x1:
        raise refused(f"Entry {shown!r} is encrypted; upload an archive without a password.")
    if info.compress_type not in _COMPRESSIONS:
        raise refused(f"Entry {shown!r} uses an unsupported compression; use deflate.")
    if info.filename.lower().endswith(_ARCHIVE_SUFFIXES):
        raise refused(f"Entry {shown!r} is an archive; nested archives are not unpacked.")
    ratio = limits.max_compression_ratio
    if info.file_size > limits.ratio_floor_bytes and info.file_size > ratio * max(
        info.compress_size, 1
    ):
        raise refused(
            f"Entry {shown!r} expands more than {ratio} times (a zip bomb?); such archives are "
            "refused."
        )


def checked_entries(archive: zipfile.ZipFile, limits: UploadLimits) -> list[zipfile.ZipInfo]:
    """Every entry checked (names, types, sizes, ratios); the files, sorted by name."""
    entries = archive.infolist()
    if len(entries) > limits.max_zip_entries:
        raise refused(f"The archive has {len(entries)} entries; at most {limits.max_zip_entries}.")
    names: set[str] = set()
    total = packed = 0
    for info in entries:
        _check_entry(info, limits)
        if info.filename in names:
            raise refused(f"Entry {info.filename[:200]!r} appears twice; keep one.")
        names.add(info.filename)
        total += info.file_size
        packed += info.compress_size
    if total > limits.max_uncompressed_bytes:
        raise refused(
            f"The archive expands to {total} bytes; at most {limits.max_uncompressed_bytes} are "
            "accepted."
        )
    ratio = limits.max_compression_ratio
    if total > limits.ratio_floor_bytes and total > ratio * max(packed, 1):
        raise refused(
            f"The archive expands more than {ratio} times (a zip bomb?); such archives are refused."
        )
    return sorted((e for e in entries if not e.is_dir()), key=lambda e: e.filename)


class Budget:
    """Counts the bytes really decompressed, whatever the archive's headers claim."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def read(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, largest: int) -> bytes:
        """One entry whole, if it is at most ``largest`` bytes."""
        if info.file_size > largest:
            raise refused(f"Entry {info.filename[:200]!r} is larger than {largest} bytes.")
        with archive.open(info) as stream:
            data = stream.read(info.file_size + 1)
        self.take(len(data), info)
        if len(data) != info.file_size:
            raise refused(f"Entry {info.filename[:200]!r} does not match its declared size.")
        return data

    def take(self, count: int, info: zipfile.ZipInfo) -> None:
        self.used += count
        if self.used > self.limit:
            raise refused(
                f"Entry {info.filename[:200]!r} takes the archive past {self.limit} bytes "
                "decompressed (a zip bomb?)."
            )

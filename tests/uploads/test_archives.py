"""Zip guards: links, duplicates, bombs, size lies, damaged archives and the limits on
entries, listing size and expansion, each refused before it can cost much."""

from __future__ import annotations

import stat
import struct
import warnings
import zipfile
from pathlib import Path

from aimaas.uploads.limits import UploadLimits
from tests.uploads import make_zip, png, refused, two_classes, write


def test_symlink_entry_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "link.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in two_classes().items():
            archive.writestr(name, content)
        link = zipfile.ZipInfo("dog/passwd.png")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    refused(path, "dog/passwd.png", "symbolic link")


def test_duplicate_entries_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "dup.zip"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(path, "w") as archive:
            for name, content in [*two_classes().items(), ("dog/1.png", png(value=99))]:
                archive.writestr(name, content)
    refused(path, "dog/1.png", "twice")


def test_zip_bomb_is_refused_from_the_central_directory(tmp_path: Path) -> None:
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in two_classes().items():
            archive.writestr(name, content)
        with archive.open("dog/bomb.png", "w", force_zip64=True) as entry:
            zeros = bytes(1 << 20)
            for _ in range(200):  # 200 MB of zeros, about 200 KB on disk
                entry.write(zeros)
    assert path.stat().st_size < 1 << 20
    refused(path, "dog/bomb.png", "zip bomb")


def test_size_lies_are_caught_while_reading(tmp_path: Path) -> None:
    """The central directory claims 1,000 bytes; the entry inflates to 2 MB."""
    path = make_zip(tmp_path, {**two_classes(), "dog/lie.png": bytes(2_000_000)})
    raw = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):
        at = -1
        while (at := raw.find(signature, at + 1)) >= 0:
            name_at = at + (46 if signature == b"PK\x01\x02" else 30)
            if raw[name_at : name_at + 11] == b"dog/lie.png":
                struct.pack_into("<I", raw, at + offset, 1000)
    path.write_bytes(bytes(raw))
    refused(path, "zip")


def test_archive_limits(tmp_path: Path) -> None:
    path = make_zip(tmp_path, {**two_classes(), "dog/2.png": png(), "dog/3.png": png()})
    refused(path, "5 entries", "at most 4", limits=UploadLimits(max_zip_entries=4))
    listing = UploadLimits(max_zip_entries=100, max_central_directory_bytes=100)
    refused(path, "list of entries", "100", limits=listing)
    expansion = UploadLimits(max_central_directory_bytes=1 << 20, max_uncompressed_bytes=200)
    refused(path, "expands to", "200", limits=expansion)
    pixels = UploadLimits(max_uncompressed_bytes=1 << 30, max_images_array_bytes=40)
    refused(path, "smaller", limits=pixels)


def test_damaged_zip_is_refused(tmp_path: Path) -> None:
    path = make_zip(tmp_path, two_classes())
    raw = path.read_bytes()
    refused(write(tmp_path, raw[: len(raw) // 2], "half.zip"), "damaged")
    refused(write(tmp_path, raw[:-30] + bytes(30), "tail.zip"), "damaged")

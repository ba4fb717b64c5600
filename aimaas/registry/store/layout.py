"""Where the artifact store keeps its files, and how a file gets there whole.

    <root>/sha256/<ab>/<digest>   plaintext, content-addressed (PlainStore)
    <root>/sealed/<ab>/<id>       sealed for one owner (SealedStore; its key is a data_keys row)
    <root>/tmp/                   files being written, swept at start

A file is written to ``tmp/``, fsynced, renamed into place and its folder fsynced, so it
exists whole or not at all, even across ``kill -9``; a removal is fsynced the same way."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from aimaas.errors import InvalidInput
from aimaas.registry.store.interface import Data

DIGEST = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1 << 20


class Layout:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.plain_dir = root / "sha256"
        self.sealed_dir = root / "sealed"
        self.tmp_dir = root / "tmp"

    def plain(self, digest: str) -> Path:
        """The plaintext object of ``digest`` (InvalidInput for anything but a digest)."""
        if not DIGEST.fullmatch(digest):
            raise InvalidInput("An artifact digest is 64 lowercase hex characters.")
        return self.plain_dir / digest[:2] / digest

    def sealed(self, object_id: str) -> Path:
        return self.sealed_dir / object_id[:2] / object_id

    def prepare(self) -> None:
        """The folders, and none of a crashed writer's half-written files."""
        self.plain_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        for leftover in self.tmp_dir.iterdir():
            leftover.unlink(missing_ok=True)

    def temp(self) -> tuple[int, Path]:
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.tmp_dir, prefix="put-")
        return fd, Path(name)

    @staticmethod
    def place(temp: Path, final: Path) -> None:
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temp, final)
        fsync_dir(final.parent)

    @staticmethod
    def remove(path: Path) -> None:
        """Unlink ``path``, durably (its folder fsynced)."""
        path.unlink(missing_ok=True)
        if path.parent.is_dir():
            fsync_dir(path.parent)

    def plain_objects(self) -> Iterator[Path]:
        """Every plaintext object on disk."""
        if self.plain_dir.is_dir():
            yield from (p for p in self.plain_dir.glob("*/*") if DIGEST.fullmatch(p.name))


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def chunks(data: Data) -> Iterable[bytes]:
    if isinstance(data, bytes | bytearray | memoryview):
        return [bytes(data)]
    if hasattr(data, "read"):
        stream = data
        return iter(lambda: stream.read(CHUNK), b"")
    return data


def file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as stream:
        yield from iter(lambda: stream.read(CHUNK), b"")


class LaidOutStore:
    """What both stores share: their files under a ``Layout``, prepared before first use and
    checked against the master keys the registry knows (``check_master_key``, per store)."""

    encrypted: bool

    def __init__(self, root: Path) -> None:
        self._layout = Layout(root)

    @property
    def root(self) -> Path:
        return self._layout.root

    def prepare(self) -> None:
        self._layout.prepare()
        self.check_master_key()

    def check_master_key(self) -> None:
        raise NotImplementedError

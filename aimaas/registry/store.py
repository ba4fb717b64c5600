"""Content-addressed artifact store under the data directory.

Each artifact lives at ``<root>/sha256/<ab>/<digest>``. Writes are atomic and durable: the
bytes go to a temp file in the same folder, which is fsynced, renamed into place, and the
folder fsynced, so an artifact either exists whole or not at all, even across ``kill -9``.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from aimaas.errors import InvalidInput, NotFound

_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._objects = root / "sha256"
        self._tmp = root / "tmp"

    def prepare(self) -> None:
        self._objects.mkdir(parents=True, exist_ok=True)
        self._tmp.mkdir(parents=True, exist_ok=True)
        for leftover in self._tmp.iterdir():  # half-written files of a crashed writer
            leftover.unlink(missing_ok=True)

    def path_of(self, digest: str) -> Path:
        if not _DIGEST.fullmatch(digest):
            raise InvalidInput("An artifact digest is 64 lowercase hex characters.")
        return self._objects / digest[:2] / digest

    def exists(self, digest: str) -> bool:
        return self.path_of(digest).is_file()

    def put_bytes(self, data: bytes) -> str:
        return self.put_chunks([data])

    def put_stream(self, stream: BinaryIO) -> str:
        return self.put_chunks(iter(lambda: stream.read(_CHUNK), b""))

    def put_chunks(self, chunks: Iterable[bytes]) -> str:
        """Store the concatenated chunks; returns their sha256 digest."""
        self._tmp.mkdir(parents=True, exist_ok=True)
        hasher = hashlib.sha256()
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix="put-")
        tmp_path = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    hasher.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            digest = hasher.hexdigest()
            final = self.path_of(digest)
            if final.is_file():
                tmp_path.unlink()
                return digest
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp_path, final)
            _fsync_dir(final.parent)
            return digest
        except BaseException:
            tmp_path.unlink(missing_ok=True)
            raise

    def read_bytes(self, digest: str) -> bytes:
        path = self.path_of(digest)
        if not path.is_file():
            raise NotFound(f"Artifact {digest[:12]} is missing from the store.")
        return path.read_bytes()

    def delete(self, digest: str) -> None:
        self.path_of(digest).unlink(missing_ok=True)

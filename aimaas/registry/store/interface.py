"""What callers of the artifact store see: the ``ArtifactStore`` interface, the ``Owner`` of
stored bytes and a ``LocalFile`` (a readable path to them). ``PlainStore`` and
``SealedStore`` implement it; ``open_store`` picks the one the settings describe."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal, Protocol

# What ``put`` takes: the bytes, a binary stream or an iterable of chunks (never held whole).
Data = bytes | BinaryIO | Iterable[bytes]


@dataclass(frozen=True)
class Owner:
    """Who owns stored bytes: bound into their encryption, named in their errors.

    ``version`` (the number) is for messages only; a version is bound by its id, which
    exists before the version is recorded (the bytes are stored first)."""

    kind: Literal["model", "file", "report"]
    tenant_id: str | None
    ref: str  # the model's name, the file's id, the evaluation's job id
    version_id: str | None = None
    version: int | None = None

    @classmethod
    def model(
        cls, tenant_id: str | None, name: str, version_id: str, version: int | None = None
    ) -> Owner:
        return cls("model", tenant_id, name, version_id, version)

    @classmethod
    def file(cls, tenant_id: str, file_id: str) -> Owner:
        return cls("file", tenant_id, file_id)

    @classmethod
    def report(cls, tenant_id: str, job_id: str) -> Owner:
        return cls("report", tenant_id, job_id)

    @property
    def context(self) -> str:
        """The canonical associated data: what a ciphertext is bound to."""
        fields: dict[str, str | None] = {"kind": self.kind, "tenant": self.tenant_id}
        if self.kind == "model":
            fields |= {"model": self.ref, "version": self.version_id}
        elif self.kind == "file":
            fields["file"] = self.ref
        else:
            fields["job"] = self.ref
        return json.dumps(fields, sort_keys=True, separators=(",", ":"))

    @property
    def label(self) -> str:
        if self.kind == "model":
            version = "" if self.version is None else f" version {self.version}"
            return f"model {self.ref!r}{version}"
        if self.kind == "file":
            return f"file {self.ref!r}"
        return f"the report of evaluation {self.ref!r}"


class LocalFile:
    """A readable path to an artifact's bytes: the store's own file (plaintext mode) or a
    sealed memory-backed file (``fd``; ``path`` is ``/proc/self/fd/N``, which a child
    process started with ``pass_fds=(fd,)`` can open too). Close it when done."""

    def __init__(self, path: Path, fd: int | None = None) -> None:
        self.path = path
        self.fd = fd

    @property
    def fds(self) -> tuple[int, ...]:
        return () if self.fd is None else (self.fd,)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> LocalFile:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class ArtifactStore(Protocol):
    """Every artifact and uploaded file, named by its sha256 digest and its owner.

    Writes are atomic and durable: an artifact exists whole or not at all, even across
    ``kill -9``. A missing or damaged artifact is ``NotFound`` (plaintext) or
    ``IntegrityFailed`` naming its owner (sealed); a malformed digest is ``InvalidInput``."""

    @property
    def root(self) -> Path: ...

    @property
    def encrypted(self) -> bool: ...

    def prepare(self) -> None:
        """At server start: the folders, no half-written leftovers, and a master key that
        fits the registry (ValueError otherwise, saying what to do)."""

    def check_master_key(self) -> None: ...

    def put(self, data: Data, owner: Owner) -> str:
        """Store the bytes for ``owner``; answers their sha256 digest."""

    def copy(self, digest: str, source: Owner, target: Owner) -> None:
        """The same bytes for another owner."""

    def staging(self) -> AbstractContextManager[Path]:
        """A scratch file for bytes on their way in, gone when the block ends."""

    def read(self, digest: str, owner: Owner) -> bytes: ...

    def open(self, digest: str, owner: Owner) -> LocalFile:
        """A readable path to the bytes (close it when done)."""

    def size(self, digest: str, owner: Owner) -> int: ...

    def exists(self, digest: str, owner: Owner | None = None) -> bool:
        """Whether the bytes are stored (for ``owner``, or for anyone)."""

    def delete(self, digest: str, owner: Owner, *, unreferenced: bool) -> None:
        """Forget ``owner``'s bytes; bytes shared by content go only when
        ``unreferenced`` (no row names the digest any more)."""

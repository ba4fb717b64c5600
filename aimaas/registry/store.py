"""The artifact store under the data directory: every artifact and uploaded file.

Callers name the bytes by their sha256 digest and say who owns them (an ``Owner``: a model
version, an uploaded file, an evaluation report). One API for both modes:

- ``put(data, owner) -> digest``, ``read(digest, owner) -> bytes``,
  ``open(digest, owner) -> LocalFile`` (a readable path, for readers that need one),
  ``copy``, ``size``, ``exists``, ``delete``, ``staging()``.

Without a master key (plaintext, as before) artifacts are content-addressed at
``<root>/sha256/<ab>/<digest>``: the same bytes are stored once, whoever owns them.

With a master key (``aimaas.crypto``) each (owner, digest) is sealed on its own
with a fresh data key at ``<root>/sealed/<ab>/<object id>``; the data key, wrapped by the
master key, is a ``data_keys`` row. The owner is the associated data, so sealed bytes
copied over another owner's do not open. Decryption happens in memory only: ``read``
answers bytes, ``open`` a memory-backed file (``memfd``, ``/proc/self/fd/N``), and
``staging`` keeps uploads in memory until they are sealed. A sealed artifact that does
not authenticate (or whose bytes do not hash to their digest) is ``IntegrityFailed``,
naming its owner: that version or file is unavailable, nothing else is.

Writes are atomic and durable either way: the bytes go to a temp file in the same folder,
which is fsynced, renamed into place, and the folder fsynced, so an artifact exists whole
or not at all, even across ``kill -9``; a data key row commits only after its bytes are in
place.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal

from sqlalchemy import func, select

from aimaas import crypto
from aimaas.errors import IntegrityFailed, InvalidInput, NotFound
from aimaas.registry.tables import DataKey

if TYPE_CHECKING:
    from aimaas.config import Settings
    from aimaas.registry.db import Database

log = logging.getLogger("aimaas.store")

_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20
# Linux only (memfd seals); looked up softly so that the plaintext store imports anywhere.
_SEALS = sum(getattr(fcntl, name, 0) for name in ("F_SEAL_SEAL", "F_SEAL_SHRINK",
                                                  "F_SEAL_GROW", "F_SEAL_WRITE"))  # fmt: skip

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


def _wrap_context(owner: str, digest: str, object_id: str) -> bytes:
    """What a wrapped data key is bound to: its owner, its content and its object."""
    return f"{owner}\0{digest}\0{object_id}".encode()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _chunks(data: Data) -> Iterable[bytes]:
    if isinstance(data, bytes | bytearray | memoryview):
        return [bytes(data)]
    if hasattr(data, "read"):
        stream = data
        return iter(lambda: stream.read(_CHUNK), b"")
    return data


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _memfd(name: str) -> int:
    return os.memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)


class ArtifactStore:
    def __init__(
        self,
        root: Path,
        *,
        db: Database | None = None,
        master_key: crypto.MasterKey | None = None,
    ) -> None:
        if master_key is not None and db is None:
            raise ValueError("an encrypting store keeps its data keys in the registry")
        if master_key is not None and not hasattr(os, "memfd_create"):
            raise ValueError(
                "Encryption at rest needs Linux: decrypted files live in memory-backed files "
                "(memfd), never on disk."
            )
        self.root = root
        self.db = db
        self.master_key = master_key
        self._objects = root / "sha256"
        self._sealed = root / "sealed"
        self._tmp = root / "tmp"

    @property
    def encrypted(self) -> bool:
        return self.master_key is not None

    # --- lifecycle ---------------------------------------------------------------------

    def prepare(self) -> None:
        """At server start: the folders, no half-written leftovers, and a master key that
        fits the registry (refuses to start otherwise, with what to do)."""
        self._objects.mkdir(parents=True, exist_ok=True)
        self._tmp.mkdir(parents=True, exist_ok=True)
        for leftover in self._tmp.iterdir():  # half-written files of a crashed writer
            leftover.unlink(missing_ok=True)
        self.check_master_key()

    def check_master_key(self) -> None:
        if self.db is None:
            return
        with self.db.session() as session:
            counts = dict(
                session.execute(
                    select(DataKey.master_key_id, func.count()).group_by(DataKey.master_key_id)
                ).all()
            )
        total = sum(counts.values())
        if self.master_key is None:
            if total:
                raise ValueError(
                    f"This data directory holds {total} artifacts encrypted at rest; start "
                    "with its master key (AIMAAS_SECURITY__MASTER_KEY_FILE or "
                    "AIMAAS_SECURITY__MASTER_KEY)."
                )
            return
        if total and not counts.get(self.master_key.id):
            others = ", ".join(sorted(counts))
            raise ValueError(
                f"The configured master key (id {self.master_key.id}) is not the one this "
                f"data directory's artifacts are encrypted under (id {others}); configure "
                "that key, or rotate with `aimaas security rotate-master-key`."
            )

    # --- paths -------------------------------------------------------------------------

    def _path_of(self, digest: str) -> Path:
        if not _DIGEST.fullmatch(digest):
            raise InvalidInput("An artifact digest is 64 lowercase hex characters.")
        return self._objects / digest[:2] / digest

    def _sealed_path(self, object_id: str) -> Path:
        return self._sealed / object_id[:2] / object_id

    def _temp(self) -> tuple[int, Path]:
        self._tmp.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self._tmp, prefix="put-")
        return fd, Path(name)

    @staticmethod
    def _place(temp: Path, final: Path) -> None:
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temp, final)
        _fsync_dir(final.parent)

    @staticmethod
    def _wrap_context(owner: Owner, digest: str, object_id: str) -> bytes:
        return _wrap_context(owner.context, digest, object_id)

    # --- writing -----------------------------------------------------------------------

    def put(self, data: Data, owner: Owner) -> str:
        """Store the bytes (bytes, a binary stream or an iterable of chunks, never held
        whole) for ``owner``; answers their sha256 digest."""
        if self.master_key is None:
            return self._put_plain(_chunks(data))
        return self._put_sealed(_chunks(data), owner, self.master_key)

    def _put_plain(self, chunks: Iterable[bytes]) -> str:
        hasher = hashlib.sha256()
        fd, temp = self._temp()
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    hasher.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            digest = hasher.hexdigest()
            final = self._path_of(digest)
            if final.is_file():
                temp.unlink()
                return digest
            self._place(temp, final)
            return digest
        except BaseException:
            temp.unlink(missing_ok=True)
            raise

    def _put_sealed(self, chunks: Iterable[bytes], owner: Owner, key: crypto.MasterKey) -> str:
        assert self.db is not None
        hasher = hashlib.sha256()
        size = 0

        def counted() -> Iterator[bytes]:
            nonlocal size
            for chunk in chunks:
                hasher.update(chunk)
                size += len(chunk)
                yield chunk

        data_key = crypto.new_data_key()
        object_id = secrets.token_hex(16)
        fd, temp = self._temp()
        final: Path | None = None
        try:
            with os.fdopen(fd, "wb") as out:
                for piece in crypto.encrypt_chunks(data_key, owner.context.encode(), counted()):
                    out.write(piece)
                out.flush()
                os.fsync(out.fileno())
            digest = hasher.hexdigest()
            wrapped = key.wrap(data_key, self._wrap_context(owner, digest, object_id))
            with self.db.session() as session:
                existing = session.scalar(
                    select(DataKey).where(DataKey.owner == owner.context, DataKey.digest == digest)
                )
                if existing is not None and self._sealed_path(existing.id).is_file():
                    temp.unlink()
                    return digest
                if existing is not None:
                    session.delete(existing)
                    session.flush()
                final = self._sealed_path(object_id)
                self._place(temp, final)  # the bytes are in place before their key commits
                session.add(
                    DataKey(
                        id=object_id,
                        owner=owner.context,
                        digest=digest,
                        size=size,
                        wrapped_key=wrapped,
                        master_key_id=key.id,
                    )
                )
            return digest
        except BaseException:
            temp.unlink(missing_ok=True)
            if final is not None:
                final.unlink(missing_ok=True)
            raise

    def copy(self, digest: str, source: Owner, target: Owner) -> None:
        """The same bytes for another owner (plaintext mode: nothing to do). Re-sealed
        chunk by chunk; the bytes are checked on the way, so a damaged source copies
        nothing."""
        if self.master_key is None:
            if not self._path_of(digest).is_file():
                raise NotFound(f"Artifact {digest[:12]} is missing from the store.")
            return
        copied = self._put_sealed(self._plaintext(digest, source), target, self.master_key)
        assert copied == digest

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """A scratch file for bytes on their way in (an upload being received and
        inspected), gone when the block ends. Encrypted: in memory only (a memfd), so an
        upload never touches the disk unsealed."""
        if self.master_key is not None:
            fd = _memfd("aimaas-upload")
            try:
                yield Path(f"/proc/self/fd/{fd}")
            finally:
                os.close(fd)
            return
        fd, temp = self._temp()
        os.close(fd)
        try:
            yield temp
        finally:
            temp.unlink(missing_ok=True)

    # --- reading -----------------------------------------------------------------------

    def read(self, digest: str, owner: Owner) -> bytes:
        if self.master_key is None:
            path = self._path_of(digest)
            if not path.is_file():
                raise NotFound(self._missing_message(digest))
            return path.read_bytes()
        return b"".join(self._plaintext(digest, owner))

    def open(self, digest: str, owner: Owner) -> LocalFile:
        """A readable path to the bytes (close it when done). Encrypted: a sealed
        memory-backed file, fully decrypted and checked before it is answered."""
        if self.master_key is None:
            path = self._path_of(digest)
            if not path.is_file():
                raise NotFound(self._missing_message(digest))
            return LocalFile(path)
        fd = _memfd(f"aimaas-{digest[:12]}")
        try:
            for chunk in self._plaintext(digest, owner):
                _write_all(fd, chunk)
            if _SEALS and hasattr(fcntl, "F_ADD_SEALS"):
                fcntl.fcntl(fd, fcntl.F_ADD_SEALS, _SEALS)  # read-only from now on
            os.lseek(fd, 0, os.SEEK_SET)
        except BaseException:
            os.close(fd)
            raise
        return LocalFile(Path(f"/proc/self/fd/{fd}"), fd)

    def size(self, digest: str, owner: Owner) -> int:
        if self.master_key is None:
            path = self._path_of(digest)
            if not path.is_file():
                raise NotFound(self._missing_message(digest))
            return path.stat().st_size
        row = self._row(digest, owner)
        if row is not None:
            return row.size
        legacy = self._path_of(digest)
        if legacy.is_file():
            return legacy.stat().st_size
        raise IntegrityFailed(self._unavailable(owner, "is missing"))

    def exists(self, digest: str, owner: Owner | None = None) -> bool:
        """Whether the bytes are stored (for ``owner``, or for anyone)."""
        if self._path_of(digest).is_file():
            return True
        if self.master_key is None:
            return False
        assert self.db is not None
        with self.db.session() as session:
            query = select(DataKey.id).where(DataKey.digest == digest)
            if owner is not None:
                query = query.where(DataKey.owner == owner.context)
            ids = session.scalars(query).all()
        return any(self._sealed_path(object_id).is_file() for object_id in ids)

    def _row(self, digest: str, owner: Owner) -> DataKey | None:
        self._path_of(digest)  # validates the digest
        assert self.db is not None
        with self.db.session() as session:
            row = session.scalar(
                select(DataKey).where(DataKey.owner == owner.context, DataKey.digest == digest)
            )
            if row is not None:
                session.expunge(row)
            return row

    def _missing_message(self, digest: str) -> str:
        if self._sealed.is_dir() and any(self._sealed.iterdir()):
            return (
                f"Artifact {digest[:12]} is not in the plaintext store; this data directory "
                "is encrypted at rest: start with its master key."
            )
        return f"Artifact {digest[:12]} is missing from the store."

    @staticmethod
    def _unavailable(owner: Owner, what: str) -> str:
        return (
            f"The stored artifact of {owner.label} {what}; it is unavailable until it is "
            "restored from a backup or registered again."
        )

    def _plaintext(self, digest: str, owner: Owner) -> Iterator[bytes]:
        """The bytes, chunk by chunk, each authenticated before it is yielded; the whole
        is checked against ``digest`` at the end (IntegrityFailed, never other bytes)."""
        key = self.master_key
        assert key is not None
        row = self._row(digest, owner)
        if row is None:
            legacy = self._path_of(digest)  # stored before encryption was turned on
            if not legacy.is_file():
                log.error("no data key for %s (%s)", owner.context, digest[:12])
                raise IntegrityFailed(self._unavailable(owner, "is missing"))
            yield from self._checked(self._read_file(legacy), digest, owner, "plaintext")
            return
        if row.master_key_id != key.id:  # the ids go to the log, for the operator
            log.error(
                "artifact %s of %s is wrapped by master key %s, the configured one is %s; "
                "start with that key or rotate with `aimaas security rotate-master-key`",
                row.id, owner.context, row.master_key_id, key.id,
            )  # fmt: skip
            raise IntegrityFailed(
                f"The stored artifact of {owner.label} is encrypted under another master key; "
                "it is unavailable until the server runs with that key."
            )
        path = self._sealed_path(row.id)
        try:
            data_key = key.unwrap(row.wrapped_key, self._wrap_context(owner, digest, row.id))
            stream = path.open("rb")
        except crypto.IntegrityError as exc:
            log.error("artifact %s of %s: %s", row.id, owner.context, exc)
            raise IntegrityFailed(self._unavailable(owner, "failed its integrity check")) from None
        except OSError:
            log.error("artifact %s of %s: its file is gone", row.id, owner.context)
            raise IntegrityFailed(self._unavailable(owner, "is missing")) from None
        with stream:
            plain = crypto.decrypt_chunks(data_key, owner.context.encode(), stream.read)
            yield from self._checked(plain, digest, owner, row.id)

    @staticmethod
    def _read_file(path: Path) -> Iterator[bytes]:
        with path.open("rb") as stream:
            yield from iter(lambda: stream.read(_CHUNK), b"")

    def _checked(
        self, chunks: Iterator[bytes], digest: str, owner: Owner, where: str
    ) -> Iterator[bytes]:
        hasher = hashlib.sha256()
        try:
            for chunk in chunks:
                hasher.update(chunk)
                yield chunk
        except crypto.IntegrityError as exc:
            log.error("artifact %s of %s: %s", where, owner.context, exc)
            raise IntegrityFailed(self._unavailable(owner, "failed its integrity check")) from None
        if hasher.hexdigest() != digest:
            log.error(
                "artifact %s of %s: its bytes do not hash to %s", where, owner.context, digest
            )
            raise IntegrityFailed(self._unavailable(owner, "failed its integrity check"))

    # --- deleting ----------------------------------------------------------------------

    def delete(self, digest: str, owner: Owner, *, unreferenced: bool) -> None:
        """Forget ``owner``'s bytes. Plaintext artifacts are shared by content, so they go
        only when ``unreferenced`` (no row names the digest any more); sealed ones belong
        to their owner alone and go at once."""
        if self.master_key is not None:
            assert self.db is not None
            with self.db.session() as session:
                row = session.scalar(
                    select(DataKey).where(DataKey.owner == owner.context, DataKey.digest == digest)
                )
                object_id = None if row is None else row.id
                if row is not None:
                    session.delete(row)
            if object_id is not None:
                self._sealed_path(object_id).unlink(missing_ok=True)
        if unreferenced:
            self._path_of(digest).unlink(missing_ok=True)


def open_store(settings: Settings, db: Database) -> ArtifactStore:
    """The store the settings describe: encrypting when a master key is configured."""
    return ArtifactStore(
        settings.storage.artifacts_dir, db=db, master_key=crypto.load_master_key(settings.security)
    )


def rewrap_data_keys(db: Database, old: crypto.MasterKey, new: crypto.MasterKey) -> int:
    """Re-wrap every data key under ``new`` in one transaction (the sealed bytes are not
    touched): afterwards ``old`` opens nothing and ``new`` everything. Answers how many
    keys were re-wrapped; keys already under ``new`` are left as they are. A key that does
    not unwrap under ``old`` aborts the whole rotation (ValueError), changing nothing."""
    rewrapped = 0
    with db.session() as session:
        for row in session.scalars(select(DataKey).order_by(DataKey.id)):
            if row.master_key_id == new.id:
                continue
            if row.master_key_id != old.id:
                raise ValueError(
                    f"Data key {row.id} is wrapped by master key {row.master_key_id}, neither "
                    f"the current one ({old.id}) nor the new one ({new.id}); nothing was changed."
                )
            context = _wrap_context(row.owner, row.digest, row.id)
            try:
                data_key = old.unwrap(row.wrapped_key, context)
            except crypto.IntegrityError:
                raise ValueError(
                    f"Data key {row.id} does not unwrap under the current master key (its row "
                    "was altered); nothing was changed."
                ) from None
            row.wrapped_key = new.wrap(data_key, context)
            row.master_key_id = new.id
            rewrapped += 1
    return rewrapped

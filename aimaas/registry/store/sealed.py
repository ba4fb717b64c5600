"""The artifact store with a master key (``aimaas.crypto``): each (owner, digest)
sealed on its own with a fresh data key at ``<root>/sealed/<ab>/<object id>``; the data key,
wrapped by the master key, is a ``data_keys`` row. The owner is the associated data, so
sealed bytes copied over another owner's do not open.

Decryption happens in memory only: ``read`` answers bytes, ``open`` a memory-backed file
(``memfd``, ``/proc/self/fd/N``), and ``staging`` keeps uploads in memory until they are
sealed. A sealed artifact that does not authenticate (or whose bytes do not hash to their
digest) is ``IntegrityFailed``, naming its owner: that version or file is unavailable,
nothing else is. A data key row commits only after its bytes are in place.

Artifacts stored before the master key was set stay readable from their plaintext
object (checked against their digest) until ``aimaas security seal-existing`` seals them
(``seal_plaintext``, ``verify_sealed``, ``remove_plaintext``; see ``sealing.py``)."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from aimaas import crypto
from aimaas.errors import IntegrityFailed
from aimaas.registry.store.data_keys import counts_by_master_key, wrap_context
from aimaas.registry.store.interface import Data, LocalFile, Owner
from aimaas.registry.store.layout import CHUNK, LaidOutStore, chunks, file_chunks
from aimaas.registry.tables import DataKey

if TYPE_CHECKING:
    from aimaas.registry.db import Database

log = logging.getLogger("aimaas.store")

# Linux only (memfd seals); looked up softly so that the package imports anywhere.
_SEALS = sum(getattr(fcntl, name, 0) for name in ("F_SEAL_SEAL", "F_SEAL_SHRINK",
                                                  "F_SEAL_GROW", "F_SEAL_WRITE"))  # fmt: skip


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _memfd(name: str) -> int:
    return os.memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)


def _unavailable(owner: Owner, what: str) -> str:
    return (
        f"The stored artifact of {owner.label} {what}; it is unavailable until it is "
        "restored from a backup or registered again."
    )


class SealedStore(LaidOutStore):
    encrypted = True

    def __init__(self, root: Path, *, db: Database, master_key: crypto.MasterKey) -> None:
        if not hasattr(os, "memfd_create"):
            raise ValueError(
                "Encryption at rest needs Linux: decrypted files live in memory-backed files "
                "(memfd), never on disk."
            )
        super().__init__(root)
        self.db = db
        self.master_key = master_key

    # --- lifecycle ---------------------------------------------------------------------

    def check_master_key(self) -> None:
        counts = counts_by_master_key(self.db)
        if sum(counts.values()) and not counts.get(self.master_key.id):
            others = ", ".join(sorted(counts))
            raise ValueError(
                f"The configured master key (id {self.master_key.id}) is not the one this "
                f"data directory's artifacts are encrypted under (id {others}); configure "
                "that key, or rotate with `aimaas security rotate-master-key`."
            )

    # --- paths and rows ----------------------------------------------------------------

    def _sealed_path(self, object_id: str) -> Path:
        return self._layout.sealed(object_id)

    def _row(self, digest: str, owner: Owner) -> DataKey | None:
        self._layout.plain(digest)  # validates the digest
        with self.db.session() as session:
            row = session.scalar(
                select(DataKey).where(DataKey.owner == owner.context, DataKey.digest == digest)
            )
            if row is not None:
                session.expunge(row)
            return row

    # --- writing -----------------------------------------------------------------------

    def put(self, data: Data, owner: Owner) -> str:
        """Seal the bytes for ``owner`` (streamed, never held whole); answers their digest."""
        return self._put_sealed(chunks(data), owner)

    def _put_sealed(self, plain: Iterable[bytes], owner: Owner) -> str:
        key = self.master_key
        hasher = hashlib.sha256()
        size = 0

        def counted() -> Iterator[bytes]:
            nonlocal size
            for chunk in plain:
                hasher.update(chunk)
                size += len(chunk)
                yield chunk

        data_key = crypto.new_data_key()
        object_id = secrets.token_hex(16)
        fd, temp = self._layout.temp()
        final: Path | None = None
        try:
            with os.fdopen(fd, "wb") as out:
                for piece in crypto.encrypt_chunks(data_key, owner.context.encode(), counted()):
                    out.write(piece)
                out.flush()
                os.fsync(out.fileno())
            digest = hasher.hexdigest()
            wrapped = key.wrap(data_key, wrap_context(owner.context, digest, object_id))
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
                self._layout.place(temp, final)  # the bytes are in place before their key commits
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
        """The same bytes for another owner, re-sealed chunk by chunk; the bytes are checked
        on the way, so a damaged source copies nothing."""
        copied = self._put_sealed(self._plaintext(digest, source), target)
        assert copied == digest

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """In memory only (a memfd), so an upload never touches the disk unsealed."""
        fd = _memfd("aimaas-upload")
        try:
            yield Path(f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)

    # --- reading -----------------------------------------------------------------------

    def read(self, digest: str, owner: Owner) -> bytes:
        return b"".join(self._plaintext(digest, owner))

    def open(self, digest: str, owner: Owner) -> LocalFile:
        """A sealed memory-backed file, fully decrypted and checked before it is answered."""
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
        for _ in range(2):  # a second look: sealed (and its plaintext removed) in between
            row = self._row(digest, owner)
            if row is not None:
                return row.size
            with contextlib.suppress(FileNotFoundError):
                return self._layout.plain(digest).stat().st_size
        raise IntegrityFailed(_unavailable(owner, "is missing"))

    def exists(self, digest: str, owner: Owner | None = None) -> bool:
        if self._layout.plain(digest).is_file():
            return True
        with self.db.session() as session:
            query = select(DataKey.id).where(DataKey.digest == digest)
            if owner is not None:
                query = query.where(DataKey.owner == owner.context)
            ids = session.scalars(query).all()
        return any(self._sealed_path(object_id).is_file() for object_id in ids)

    def _plaintext(self, digest: str, owner: Owner) -> Iterator[bytes]:
        """The bytes, chunk by chunk, each authenticated before it is yielded; the whole
        is checked against ``digest`` at the end (IntegrityFailed, never other bytes).
        Without a data key row, the plaintext object stored before the master key was set;
        if that is gone, it was sealed in between (``seal-existing``): the row is looked
        up once more."""
        row = self._row(digest, owner)
        if row is None:
            try:
                legacy = self._layout.plain(digest).open("rb")
            except FileNotFoundError:
                row = self._row(digest, owner)
                if row is None:
                    log.error("no data key for %s (%s)", owner.context, digest[:12])
                    raise IntegrityFailed(_unavailable(owner, "is missing")) from None
            else:
                with legacy:
                    plain = iter(lambda: legacy.read(CHUNK), b"")
                    yield from self._checked(plain, digest, owner, "plaintext")
                return
        yield from self._unsealed(row, digest, owner)

    def _unsealed(self, row: DataKey, digest: str, owner: Owner) -> Iterator[bytes]:
        key = self.master_key
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
            data_key = key.unwrap(row.wrapped_key, wrap_context(owner.context, digest, row.id))
            stream = path.open("rb")
        except crypto.IntegrityError as exc:
            log.error("artifact %s of %s: %s", row.id, owner.context, exc)
            raise IntegrityFailed(_unavailable(owner, "failed its integrity check")) from None
        except OSError:
            log.error("artifact %s of %s: its file is gone", row.id, owner.context)
            raise IntegrityFailed(_unavailable(owner, "is missing")) from None
        with stream:
            plain = crypto.decrypt_chunks(data_key, owner.context.encode(), stream.read)
            yield from self._checked(plain, digest, owner, row.id)

    @staticmethod
    def _checked(chunks: Iterator[bytes], digest: str, owner: Owner, where: str) -> Iterator[bytes]:
        hasher = hashlib.sha256()
        try:
            for chunk in chunks:
                hasher.update(chunk)
                yield chunk
        except crypto.IntegrityError as exc:
            log.error("artifact %s of %s: %s", where, owner.context, exc)
            raise IntegrityFailed(_unavailable(owner, "failed its integrity check")) from None
        if hasher.hexdigest() != digest:
            log.error(
                "artifact %s of %s: its bytes do not hash to %s", where, owner.context, digest
            )
            raise IntegrityFailed(_unavailable(owner, "failed its integrity check"))

    # --- sealing what was stored before the master key ---------------------------------

    def is_sealed(self, digest: str, owner: Owner) -> bool:
        """Whether ``owner`` has a data key row for the bytes and its sealed file exists."""
        row = self._row(digest, owner)
        return row is not None and self._sealed_path(row.id).is_file()

    def seal_plaintext(self, digest: str, owner: Owner) -> None:
        """Seal the plaintext object of ``digest`` for ``owner`` (checked against the digest
        on the way: IntegrityFailed, and nothing sealed, if it does not hash to it). The
        plaintext stays; a row already in place with its file is left as it is."""
        plain = self._layout.plain(digest)
        source = self._checked(file_chunks(plain), digest, owner, "plaintext")
        sealed = self._put_sealed(source, owner)
        assert sealed == digest

    def verify_sealed(self, digest: str, owner: Owner) -> bool:
        """Whether ``owner``'s sealed copy (never the plaintext) decrypts to ``digest``."""
        row = self._row(digest, owner)
        if row is None:
            return False
        try:
            for _ in self._unsealed(row, digest, owner):
                pass
        except IntegrityFailed:
            return False
        return True

    def forget_sealed(self, digest: str, owner: Owner) -> None:
        """Drop ``owner``'s sealed copy (its row, then its file); the plaintext stays."""
        self.delete(digest, owner, unreferenced=False)

    def remove_plaintext(self, digest: str) -> None:
        """Remove the plaintext object, durably. Only once every owner of the bytes has a
        verified sealed copy."""
        self._layout.remove(self._layout.plain(digest))

    # --- deleting ----------------------------------------------------------------------

    def delete(self, digest: str, owner: Owner, *, unreferenced: bool) -> None:
        """Sealed bytes belong to their owner alone and go at once; plaintext objects are
        shared by content and go only when ``unreferenced``."""
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
            self._layout.plain(digest).unlink(missing_ok=True)

"""The artifact store without a master key: plaintext, content-addressed at
``<root>/sha256/<ab>/<digest>``, so the same bytes are stored once, whoever owns them."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from aimaas.errors import NotFound
from aimaas.registry.store.data_keys import counts_by_master_key
from aimaas.registry.store.interface import Data, LocalFile, Owner
from aimaas.registry.store.layout import LaidOutStore, chunks

if TYPE_CHECKING:
    from aimaas.registry.db import Database


class PlainStore(LaidOutStore):
    encrypted = False

    def __init__(self, root: Path, *, db: Database | None = None) -> None:
        super().__init__(root)
        self.db = db  # only to refuse a data directory that is encrypted at rest

    # --- lifecycle ---------------------------------------------------------------------

    def check_master_key(self) -> None:
        if self.db is None:
            return
        total = sum(counts_by_master_key(self.db).values())
        if total:
            raise ValueError(
                f"This data directory holds {total} artifacts encrypted at rest; start "
                "with its master key (AIMAAS_SECURITY__MASTER_KEY_FILE or "
                "AIMAAS_SECURITY__MASTER_KEY)."
            )

    # --- writing -----------------------------------------------------------------------

    def put(self, data: Data, owner: Owner) -> str:
        hasher = hashlib.sha256()
        fd, temp = self._layout.temp()
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks(data):
                    hasher.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            digest = hasher.hexdigest()
            final = self._layout.plain(digest)
            if final.is_file():
                temp.unlink()
                return digest
            self._layout.place(temp, final)
            return digest
        except BaseException:
            temp.unlink(missing_ok=True)
            raise

    def copy(self, digest: str, source: Owner, target: Owner) -> None:
        """Nothing to do: the bytes are shared by content."""
        if not self._layout.plain(digest).is_file():
            raise NotFound(f"Artifact {digest[:12]} is missing from the store.")

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        fd, temp = self._layout.temp()
        os.close(fd)
        try:
            yield temp
        finally:
            temp.unlink(missing_ok=True)

    # --- reading -----------------------------------------------------------------------

    def _existing(self, digest: str) -> Path:
        path = self._layout.plain(digest)
        if not path.is_file():
            raise NotFound(self._missing_message(digest))
        return path

    def read(self, digest: str, owner: Owner) -> bytes:
        return self._existing(digest).read_bytes()

    def open(self, digest: str, owner: Owner) -> LocalFile:
        return LocalFile(self._existing(digest))

    def size(self, digest: str, owner: Owner) -> int:
        return self._existing(digest).stat().st_size

    def exists(self, digest: str, owner: Owner | None = None) -> bool:
        return self._layout.plain(digest).is_file()

    def _missing_message(self, digest: str) -> str:
        sealed = self._layout.sealed_dir
        if sealed.is_dir() and any(sealed.iterdir()):
            return (
                f"Artifact {digest[:12]} is not in the plaintext store; this data directory "
                "is encrypted at rest: start with its master key."
            )
        return f"Artifact {digest[:12]} is missing from the store."

    # --- deleting ----------------------------------------------------------------------

    def delete(self, digest: str, owner: Owner, *, unreferenced: bool) -> None:
        if unreferenced:
            self._layout.plain(digest).unlink(missing_ok=True)

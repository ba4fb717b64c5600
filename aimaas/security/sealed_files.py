"""Scratch files sealed at rest (a running job's checkpoints): one data key per folder, kept
next to the files wrapped by the master key, each file sealed with AES-256-GCM and bound to
its owner and its name. Without the master key the folder is unreadable; a file renamed,
swapped or altered fails to open."""

from __future__ import annotations

import os
from pathlib import Path

from aimaas.crypto import MasterKey, decrypt, encrypt, new_data_key

KEY_FILE = "data-key.wrapped"


class SealedFiles:
    def __init__(self, master: MasterKey, folder: Path, owner: str) -> None:
        self._owner = owner.encode()
        key_path = folder / KEY_FILE
        if key_path.exists():
            self._key = master.unwrap(key_path.read_bytes(), self._owner)
            return
        self._key = new_data_key()
        folder.mkdir(parents=True, exist_ok=True)
        temporary = key_path.with_name(f".{KEY_FILE}.tmp")
        with open(temporary, "wb") as file:
            file.write(master.wrap(self._key, self._owner))
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, key_path)

    def _context(self, name: str) -> bytes:
        return self._owner + b"\x00" + name.encode()

    def seal(self, data: bytes, name: str) -> bytes:
        return encrypt(self._key, self._context(name), data)

    def unseal(self, data: bytes, name: str) -> bytes:
        return decrypt(self._key, self._context(name), data)

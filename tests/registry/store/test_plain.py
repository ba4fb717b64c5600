"""PlainStore: what only the plaintext store does (tests/registry/store/test_interface.py
runs the shared API in both modes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aimaas.crypto import MasterKey
from aimaas.errors import NotFound
from aimaas.registry.db import Database
from aimaas.registry.store import Owner, PlainStore, SealedStore

OWNER = Owner.model("tn-a", "iris", "mv-1", 1)


def test_the_same_bytes_are_stored_once_whoever_owns_them(tmp_path: Path, db: Database) -> None:
    store = PlainStore(tmp_path / "artifacts", db=db)
    digest = store.put(b"shared", OWNER)
    assert store.put(b"shared", Owner.file("tn-b", "file-1")) == digest
    assert [p.name for p in (tmp_path / "artifacts" / "sha256").rglob("*") if p.is_file()] == [
        digest
    ]


def test_a_plain_store_refuses_an_encrypted_data_directory(tmp_path: Path, db: Database) -> None:
    digest = SealedStore(tmp_path / "artifacts", db=db, master_key=MasterKey.generate()).put(
        b"x", OWNER
    )
    with pytest.raises(ValueError, match="encrypted at rest; start with its master key"):
        PlainStore(tmp_path / "artifacts", db=db).prepare()
    with pytest.raises(NotFound, match="encrypted at rest: start with its master key"):
        PlainStore(tmp_path / "artifacts").read(digest, OWNER)

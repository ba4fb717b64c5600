"""The data_keys rows (aimaas/registry/store/data_keys.py): what a wrapped key is bound to,
and how many keys each master key wraps, counted on a real registry."""

from __future__ import annotations

from pathlib import Path

from aimaas.crypto import MasterKey
from aimaas.registry.db import Database
from aimaas.registry.store import Owner, SealedStore
from aimaas.registry.store.data_keys import counts_by_master_key, wrap_context
from aimaas.registry.tables import DataKey


def test_wrap_context_joins_owner_digest_and_object_with_nul() -> None:
    assert wrap_context("owner", "ab" * 32, "obj-1") == b"owner\x00" + b"ab" * 32 + b"\x00obj-1"
    # Each part is bound: moving a character from one part to the next changes the context.
    assert wrap_context("a", "bc", "d") != wrap_context("ab", "c", "d")


def test_counts_by_master_key_with_no_rows_is_empty(db: Database) -> None:
    assert counts_by_master_key(db) == {}


def test_counts_by_master_key_counts_each_master_keys_rows(tmp_path: Path, db: Database) -> None:
    first, second = MasterKey.generate(), MasterKey.generate()
    store = SealedStore(tmp_path / "artifacts", db=db, master_key=first)
    for n in range(3):
        store.put(f"bytes {n}".encode(), Owner.file("tn-a", f"file-{n}"))
    assert counts_by_master_key(db) == {first.id: 3}
    with db.session() as session:  # as rotation leaves it halfway: one row under the new key
        row = session.query(DataKey).order_by(DataKey.id).first()
        assert row is not None
        row.master_key_id = second.id
    assert counts_by_master_key(db) == {first.id: 2, second.id: 1}

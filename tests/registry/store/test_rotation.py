"""Master key rotation: every data key re-wrapped, the sealed bytes untouched, all or
nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from aimaas import crypto
from aimaas.crypto import IntegrityError, MasterKey
from aimaas.errors import IntegrityFailed
from aimaas.registry.db import Database
from aimaas.registry.store import Owner, SealedStore
from aimaas.registry.store.rotation import rewrap_data_keys
from aimaas.registry.tables import DataKey


def sealed_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "sealed").rglob("*") if p.is_file())


def test_rotation_rewraps_without_reencrypting(tmp_path: Path, db: Database) -> None:
    old, new = MasterKey.generate(), MasterKey.generate()
    store = SealedStore(tmp_path / "a", db=db, master_key=old)
    owners = [Owner.model("tn", "m", f"mv-{i}", i) for i in range(5)]
    digests = [store.put(f"artifact {i}".encode() * 100, o) for i, o in enumerate(owners)]
    before = {p: p.read_bytes() for p in sealed_files(tmp_path / "a")}
    assert rewrap_data_keys(db, old, new) == 5
    assert {p: p.read_bytes() for p in sealed_files(tmp_path / "a")} == before  # untouched
    rotated = SealedStore(tmp_path / "a", db=db, master_key=new)
    rotated.prepare()
    for digest, owner in zip(digests, owners, strict=True):
        assert rotated.read(digest, owner).startswith(b"artifact")
        with pytest.raises(IntegrityFailed, match="another master key"):
            store.read(digest, owner)
    with pytest.raises(ValueError, match="not the one"):
        store.prepare()
    with db.session() as session:  # the old key opens no data key any more
        for row in session.query(DataKey):
            with pytest.raises(IntegrityError):
                old.unwrap(row.wrapped_key, f"{row.owner}\0{row.digest}\0{row.id}".encode())
    assert rewrap_data_keys(db, old, new) == 0  # done already: nothing to do
    with pytest.raises(ValueError, match="neither"):
        rewrap_data_keys(db, MasterKey.generate(), MasterKey.generate())


def test_rotation_changes_nothing_when_one_key_is_bad(tmp_path: Path, db: Database) -> None:
    old, new = MasterKey.generate(), MasterKey.generate()
    store = SealedStore(tmp_path / "a", db=db, master_key=old)
    good = store.put(b"good", Owner.file("tn", "file-1"))
    store.put(b"altered", Owner.file("tn", "file-2"))
    with db.session() as session:
        row = session.query(DataKey).filter(DataKey.owner.contains("file-2")).one()
        row.wrapped_key = bytes(crypto.WRAPPED_BYTES)
    with pytest.raises(ValueError, match="does not unwrap"):
        rewrap_data_keys(db, old, new)
    with db.session() as session:
        assert {row.master_key_id for row in session.query(DataKey)} == {old.id}
    assert store.read(good, Owner.file("tn", "file-1")) == b"good"

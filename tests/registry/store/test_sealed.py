"""SealedStore: plaintext artifacts of before the master key, the key check at start, and
the integrity errors that name the version (the cipher: tests/test_crypto.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aimaas.crypto import MasterKey
from aimaas.errors import IntegrityFailed
from aimaas.registry.db import Database
from aimaas.registry.store import Owner, PlainStore, SealedStore
from aimaas.registry.tables import DataKey

OWNER = Owner.model("tn-a", "iris", "mv-1", 1)


def test_plaintext_artifacts_stay_readable_once_encryption_is_on(
    tmp_path: Path, db: Database
) -> None:
    plain = PlainStore(tmp_path / "artifacts", db=db)
    data = b"stored before the master key"
    digest = plain.put(data, OWNER)
    sealed = SealedStore(tmp_path / "artifacts", db=db, master_key=MasterKey.generate())
    assert sealed.read(digest, OWNER) == data  # checked against its digest
    assert sealed.size(digest, OWNER) == len(data) and sealed.exists(digest, OWNER)
    with sealed.open(digest, OWNER) as local:
        assert local.path.read_bytes() == data
    (tmp_path / "artifacts" / "sha256" / digest[:2] / digest).write_bytes(b"x" + data[1:])
    with pytest.raises(IntegrityFailed, match="failed its integrity check"):
        sealed.read(digest, OWNER)


def test_a_store_refuses_to_start_with_the_wrong_key_or_none(tmp_path: Path, db: Database) -> None:
    key = MasterKey.generate()
    SealedStore(tmp_path / "artifacts", db=db, master_key=key).put(b"x", OWNER)
    with pytest.raises(ValueError, match="encrypted at rest; start with its master key"):
        PlainStore(tmp_path / "artifacts", db=db).prepare()
    with pytest.raises(ValueError, match=f"not the one .* \\(id {key.id}\\)"):
        SealedStore(tmp_path / "artifacts", db=db, master_key=MasterKey.generate()).prepare()
    SealedStore(tmp_path / "artifacts", db=db, master_key=key).prepare()


def test_a_sealed_copy_replaces_the_plaintext(tmp_path: Path, db: Database) -> None:
    """What seal-existing does for one artifact, step by step; readable at every step."""
    data = b"weights of before" * 10_000
    digest = PlainStore(tmp_path / "artifacts", db=db).put(data, OWNER)
    store = SealedStore(tmp_path / "artifacts", db=db, master_key=MasterKey.generate())
    assert not store.is_sealed(digest, OWNER) and not store.verify_sealed(digest, OWNER)
    store.seal_plaintext(digest, OWNER)
    assert store.is_sealed(digest, OWNER) and store.verify_sealed(digest, OWNER)
    assert store.read(digest, OWNER) == data
    store.remove_plaintext(digest)
    assert not (tmp_path / "artifacts" / "sha256" / digest[:2] / digest).exists()
    assert store.read(digest, OWNER) == data and store.size(digest, OWNER) == len(data)
    on_disk = b"".join(p.read_bytes() for p in (tmp_path / "artifacts").rglob("*") if p.is_file())
    assert b"weights of before" not in on_disk


def test_a_damaged_plaintext_is_not_sealed(tmp_path: Path, db: Database) -> None:
    digest = PlainStore(tmp_path / "artifacts", db=db).put(b"good bytes", OWNER)
    (tmp_path / "artifacts" / "sha256" / digest[:2] / digest).write_bytes(b"bad bytes!")
    store = SealedStore(tmp_path / "artifacts", db=db, master_key=MasterKey.generate())
    with pytest.raises(IntegrityFailed, match="failed its integrity check"):
        store.seal_plaintext(digest, OWNER)
    assert not store.is_sealed(digest, OWNER)
    assert not (tmp_path / "artifacts" / "sealed").exists() or not any(
        p.is_file() for p in (tmp_path / "artifacts" / "sealed").rglob("*")
    )


def test_a_flipped_bit_or_a_swapped_file_names_the_version(tmp_path: Path, db: Database) -> None:
    store = SealedStore(tmp_path / "a", db=db, master_key=MasterKey.generate())
    one, two = Owner.model("tn", "iris", "mv-1", 1), Owner.model("tn", "iris", "mv-2", 2)
    other = Owner.model("tn", "wine", "mv-3", 1)
    d1 = store.put(b"one" * 1000, one)
    d2 = store.put(b"two" * 1000, two)
    d3 = store.put(b"three" * 1000, other)
    with db.session() as session:
        path = {row.owner: store._sealed_path(row.id) for row in session.query(DataKey)}
    p1, p2 = path[one.context], path[two.context]
    damaged = bytearray(p1.read_bytes())
    damaged[len(damaged) // 2] ^= 0x04
    p1.write_bytes(bytes(damaged))
    with pytest.raises(IntegrityFailed) as caught:
        store.read(d1, one)
    assert caught.value.message.startswith(
        "The stored artifact of model 'iris' version 1 failed its integrity check"
    )
    assert caught.value.code == "integrity_check_failed" and str(tmp_path) not in str(caught.value)
    with pytest.raises(IntegrityFailed):
        store.open(d1, one)  # no memory-backed file with half the bytes either
    p1.write_bytes(p2.read_bytes())  # version 2's ciphertext copied over version 1's
    with pytest.raises(IntegrityFailed, match="version 1 failed its integrity check"):
        store.read(d1, one)
    assert store.read(d2, two) == b"two" * 1000  # the others are fine
    assert store.read(d3, other) == b"three" * 1000
    p2.unlink()
    with pytest.raises(IntegrityFailed, match="version 2 is missing"):
        store.read(d2, two)
    copy_target = Owner.model("tn", "iris", "mv-9", 9)
    with pytest.raises(IntegrityFailed):
        store.copy(d1, one, copy_target)  # a damaged source copies nothing
    assert not store.exists(d1, copy_target)


def test_swapped_key_rows_do_not_open(tmp_path: Path, db: Database) -> None:
    store = SealedStore(tmp_path / "a", db=db, master_key=MasterKey.generate())
    one, two = Owner.file("tn", "file-1"), Owner.file("tn", "file-2")
    d1, d2 = store.put(b"first file", one), store.put(b"second file", two)
    with db.session() as session:
        rows = {row.owner: row for row in session.query(DataKey)}
        rows[one.context].wrapped_key, rows[two.context].wrapped_key = (
            rows[two.context].wrapped_key,
            rows[one.context].wrapped_key,
        )
    for digest, owner in ((d1, one), (d2, two)):
        with pytest.raises(IntegrityFailed, match=f"file '{owner.ref}' failed"):
            store.read(digest, owner)

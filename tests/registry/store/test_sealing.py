"""seal_existing and census on a data directory filled without a master key (the real
stores, a real SQLite registry); tests/e2e/test_seal_existing_kill.py kills the CLI midway."""

from __future__ import annotations

from pathlib import Path

from aimaas.crypto import MasterKey
from aimaas.registry.store import SealedStore
from aimaas.registry.store.references import Reference
from aimaas.registry.store.sealing import Amount, census, seal_existing
from aimaas.registry.tables import DataKey
from tests.registry.store.filled import Filled, fill_without_key, occurrences


def plain_objects(filled: Filled) -> list[Path]:
    root = filled.settings.storage.artifacts_dir / "sha256"
    return sorted(p for p in root.rglob("*") if p.is_file())


def assert_all_readable(filled: Filled, key: MasterKey) -> None:
    db = filled.database()
    try:
        store = SealedStore(filled.settings.storage.artifacts_dir, db=db, master_key=key)
        for item in filled.stored:
            assert store.read(item.digest, item.owner) == item.data, item.owner.label
            assert store.size(item.digest, item.owner) == len(item.data)
            with store.open(item.digest, item.owner) as local:
                assert local.path.read_bytes() == item.data
    finally:
        db.dispose()


def test_seal_existing_seals_everything_and_leaves_no_plaintext(tmp_path: Path) -> None:
    filled = fill_without_key(tmp_path / "data")
    root = filled.settings.storage.artifacts_dir
    objects = {item.digest: len(item.data) for item in filled.stored}
    db = filled.database()
    key = MasterKey.generate()
    try:
        before = census(root, db, None)
        assert before.master_key_id is None and before.data_keys == {}
        assert before.sealed == Amount() and before.missing == 0
        assert before.plaintext == Amount(13, sum(objects.values()))  # 12 objects, 13 owners
        assert before.unreferenced_plaintext == Amount(1, len(filled.unreferenced))
        assert occurrences(tmp_path / "data", filled.needles())  # the control: in the clear

        store = SealedStore(root, db=db, master_key=key)
        store.prepare()
        heard: list[Reference] = []
        outcome = seal_existing(store, db, on_sealed=heard.append)
        assert outcome.sealed.count == 13 and len(heard) == 13
        assert outcome.plaintext_removed == Amount(12, sum(objects.values()))
        assert outcome.already_sealed == 0 and outcome.damaged == outcome.missing == []

        after = census(root, db, key.id)
        assert after.data_keys == {key.id: 13}
        assert after.sealed.count == 13 and after.plaintext == Amount()
        assert after.plaintext_of_sealed == Amount() and after.missing == 0
        assert after.unreferenced_plaintext == Amount(1, len(filled.unreferenced))

        again = seal_existing(store, db)  # idempotent: nothing left to do
        assert again.sealed == Amount() and again.already_sealed == 13
        assert again.plaintext_removed == Amount()
    finally:
        db.dispose()
    assert_all_readable(filled, key)
    # Nothing of any artifact left in the clear anywhere in the data directory (SQLite
    # included); only the object no row names stays, as it was.
    assert occurrences(tmp_path / "data", filled.needles()) == {}
    assert [p.read_bytes() for p in plain_objects(filled)] == [filled.unreferenced]


def test_seal_existing_finishes_what_an_interrupted_run_left(tmp_path: Path) -> None:
    """The states a kill leaves, made with the store's own steps: an artifact sealed but its
    plaintext not yet removed, a sealed file whose row never committed, a half-written temp
    file, a sealed copy that does not verify while its plaintext is still there."""
    filled = fill_without_key(tmp_path / "data")
    root = filled.settings.storage.artifacts_dir
    db = filled.database()
    key = MasterKey.generate()
    try:
        store = SealedStore(root, db=db, master_key=key)
        first, second, third = filled.stored[1], filled.stored[5], filled.stored[9]
        store.seal_plaintext(first.digest, first.owner)  # killed before the plaintext went
        store.seal_plaintext(second.digest, second.owner)
        with db.session() as session:
            object_id = (
                session.query(DataKey)
                .filter_by(owner=second.owner.context, digest=second.digest)
                .one()
                .id
            )
        orphan = root / "sealed" / "ff" / "ff00"  # a sealed file whose row never committed
        orphan.parent.mkdir(parents=True, exist_ok=True)
        orphan.write_bytes((root / "sealed" / object_id[:2] / object_id).read_bytes())
        store.seal_plaintext(third.digest, third.owner)
        with db.session() as session:
            row = (
                session.query(DataKey)
                .filter_by(owner=third.owner.context, digest=third.digest)
                .one()
            )
        damaged = root / "sealed" / row.id[:2] / row.id
        damaged.write_bytes(damaged.read_bytes()[:-1])  # does not verify; plaintext still here
        (root / "tmp" / "put-killed").write_bytes(b"half a sealed file")
        assert_all_readable_but(filled, key, broken=third)

        census_before = census(root, db, key.id)
        assert census_before.sealed.count == 3 and census_before.plaintext.count == 10
        store.prepare()  # as the CLI does: the temp file goes
        outcome = seal_existing(store, db)
        assert outcome.already_sealed == 2 and outcome.sealed.count == 11
        assert outcome.damaged == []
    finally:
        db.dispose()
    assert_all_readable(filled, key)
    assert occurrences(tmp_path / "data", filled.needles()) == {}
    assert list((root / "tmp").iterdir()) == []


def assert_all_readable_but(filled: Filled, key: MasterKey, *, broken: object) -> None:
    db = filled.database()
    try:
        store = SealedStore(filled.settings.storage.artifacts_dir, db=db, master_key=key)
        for item in filled.stored:
            if item is not broken:
                assert store.read(item.digest, item.owner) == item.data
    finally:
        db.dispose()


def test_a_damaged_plaintext_stays_and_is_named(tmp_path: Path) -> None:
    filled = fill_without_key(tmp_path / "data")
    root = filled.settings.storage.artifacts_dir
    bad = filled.stored[2]
    (root / "sha256" / bad.digest[:2] / bad.digest).write_bytes(b"not the uploaded bytes")
    db = filled.database()
    try:
        store = SealedStore(root, db=db, master_key=MasterKey.generate())
        outcome = seal_existing(store, db)
        assert outcome.damaged == [bad.owner.label] and outcome.sealed.count == 12
        assert (root / "sha256" / bad.digest[:2] / bad.digest).is_file()
        assert not store.is_sealed(bad.digest, bad.owner)
        left = census(root, db, store.master_key.id)
        assert left.plaintext.count == 1 and left.sealed.count == 12
    finally:
        db.dispose()

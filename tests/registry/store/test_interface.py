"""The ArtifactStore interface, run against both stores: PlainStore (content-addressed
plaintext) and SealedStore (sealed per owner with a master key). The same API in both
modes; tests/test_crypto.py covers the cipher itself."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from aimaas.crypto import MasterKey
from aimaas.errors import IntegrityFailed, InvalidInput, NotFound
from aimaas.registry.db import Database
from aimaas.registry.store import ArtifactStore, Owner, PlainStore, SealedStore

OWNER = Owner.model("tn-a", "iris", "mv-1", 1)
OTHER = Owner.model("tn-a", "iris", "mv-2", 2)


@pytest.fixture(params=["plaintext", "sealed"])
def store(request: pytest.FixtureRequest, tmp_path: Path, db: Database) -> ArtifactStore:
    root = tmp_path / "artifacts"
    store: ArtifactStore
    if request.param == "sealed":
        store = SealedStore(root, db=db, master_key=MasterKey.generate())
    else:
        store = PlainStore(root, db=db)
    store.prepare()
    return store


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_put_read_open_in_both_modes(store: ArtifactStore, tmp_path: Path) -> None:
    data = b"weights" * 200_000  # more than one chunk
    digest = store.put(data, OWNER)
    assert digest == hashlib.sha256(data).hexdigest()
    assert store.read(digest, OWNER) == data
    assert store.put(io.BytesIO(data), OWNER) == digest  # again: nothing new
    assert store.put([data[:5], data[5:]], OWNER) == digest
    assert store.size(digest, OWNER) == len(data)
    assert store.exists(digest, OWNER) and store.exists(digest)
    with store.open(digest, OWNER) as local:
        assert local.path.read_bytes() == data
        if store.encrypted:
            assert local.fd is not None and str(local.path) == f"/proc/self/fd/{local.fd}"
            with pytest.raises(PermissionError):  # sealed read-only
                os.write(local.fd, b"x")
    assert list((tmp_path / "artifacts" / "tmp").iterdir()) == []
    stored = files_under(tmp_path / "artifacts")
    assert len(stored) == 1
    if store.encrypted:
        assert stored[0].parent.parent.name == "sealed"
        assert data[:64] not in stored[0].read_bytes()
    else:
        assert stored[0].name == digest and stored[0].parent.name == digest[:2]


def test_owners_and_copies(store: ArtifactStore, tmp_path: Path) -> None:
    data = b"the same bytes for two versions"
    digest = store.put(data, OWNER)
    if store.encrypted:  # sealed for its owner only
        with pytest.raises(IntegrityFailed, match="model 'iris' version 2 is missing"):
            store.read(digest, OTHER)
    store.copy(digest, OWNER, OTHER)
    assert store.read(digest, OTHER) == data
    assert len(files_under(tmp_path / "artifacts")) == (2 if store.encrypted else 1)
    store.delete(digest, OWNER, unreferenced=False)
    assert store.read(digest, OTHER) == data  # the other owner keeps its bytes
    store.delete(digest, OTHER, unreferenced=True)
    assert files_under(tmp_path / "artifacts") == []


def test_failed_write_leaves_nothing(store: ArtifactStore, tmp_path: Path) -> None:
    def broken() -> Iterator[bytes]:
        yield b"half"
        raise OSError("disk gone")

    with pytest.raises(OSError):
        store.put(broken(), OWNER)
    assert files_under(tmp_path / "artifacts") == []


def test_staging_is_in_memory_when_sealed(store: ArtifactStore, tmp_path: Path) -> None:
    with store.staging() as path:
        path.write_bytes(b"secret upload")
        assert path.read_bytes() == b"secret upload"
        on_disk = files_under(tmp_path / "artifacts")
        assert on_disk == ([] if store.encrypted else [path])
    assert files_under(tmp_path / "artifacts") == []


def test_prepare_removes_leftovers_of_a_crash(store: ArtifactStore, tmp_path: Path) -> None:
    (tmp_path / "artifacts" / "tmp" / "put-crashed").write_bytes(b"partial")
    store.prepare()
    assert list((tmp_path / "artifacts" / "tmp").iterdir()) == []


def test_digests_are_checked(store: ArtifactStore) -> None:
    with pytest.raises(InvalidInput):
        store.read("../../etc/passwd", OWNER)
    with pytest.raises(IntegrityFailed if store.encrypted else NotFound):
        store.read("0" * 64, OWNER)

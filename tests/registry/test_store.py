"""The content-addressed artifact store."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from aimaas.errors import InvalidInput, NotFound
from aimaas.registry.store import ArtifactStore


def test_put_and_read_are_content_addressed(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "artifacts")
    store.prepare()
    data = b"weights" * 1000
    digest = store.put_bytes(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert store.read_bytes(digest) == data
    assert store.put_stream(io.BytesIO(data)) == digest  # same content, same address
    assert store.path_of(digest).parent.name == digest[:2]
    assert list((tmp_path / "artifacts" / "tmp").iterdir()) == []


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "artifacts")
    store.prepare()

    def broken() -> object:
        yield b"half"
        raise OSError("disk gone")

    with pytest.raises(OSError):
        store.put_chunks(broken())  # type: ignore[arg-type]
    assert list((tmp_path / "artifacts" / "tmp").iterdir()) == []
    assert list((tmp_path / "artifacts" / "sha256").iterdir()) == []


def test_prepare_removes_leftovers_of_a_crash(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "artifacts")
    store.prepare()
    (tmp_path / "artifacts" / "tmp" / "put-crashed").write_bytes(b"partial")
    store.prepare()
    assert list((tmp_path / "artifacts" / "tmp").iterdir()) == []


def test_digests_are_checked(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "artifacts")
    with pytest.raises(InvalidInput):
        store.path_of("../../etc/passwd")
    with pytest.raises(NotFound):
        store.read_bytes("0" * 64)

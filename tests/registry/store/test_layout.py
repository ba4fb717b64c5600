"""Where the artifact store keeps its files (aimaas/registry/store/layout.py): paths by
digest and id, preparing the folders (a crashed writer's files swept), durable placing and
removal, the chunking of every kind of data, and the base class the stores share."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from aimaas.errors import InvalidInput
from aimaas.registry.store.layout import (
    CHUNK,
    LaidOutStore,
    Layout,
    chunks,
    file_chunks,
    fsync_dir,
)

DIGEST = hashlib.sha256(b"x").hexdigest()


def test_paths_by_digest_and_by_object_id(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    assert layout.plain(DIGEST) == tmp_path / "sha256" / DIGEST[:2] / DIGEST
    assert layout.sealed("obj-123") == tmp_path / "sealed" / "ob" / "obj-123"
    assert (layout.plain_dir, layout.sealed_dir, layout.tmp_dir) == (
        tmp_path / "sha256",
        tmp_path / "sealed",
        tmp_path / "tmp",
    )


@pytest.mark.parametrize("bad", ["", DIGEST.upper(), DIGEST[:-1], "../" + DIGEST[3:], DIGEST + "0"])
def test_anything_but_a_digest_is_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(InvalidInput, match="64 lowercase hex characters"):
        Layout(tmp_path).plain(bad)


def test_prepare_makes_the_folders_and_sweeps_half_written_files(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "artifacts")
    layout.prepare()
    assert layout.plain_dir.is_dir() and layout.tmp_dir.is_dir()
    fd, temp = layout.temp()
    os.write(fd, b"half")
    os.close(fd)
    assert temp.parent == layout.tmp_dir and temp.name.startswith("put-")
    layout.prepare()  # after a crash: the leftover goes
    assert list(layout.tmp_dir.iterdir()) == []


def test_place_moves_a_file_into_a_new_folder_and_remove_unlinks_it(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    fd, temp = layout.temp()
    os.write(fd, b"x")
    os.close(fd)
    final = layout.plain(DIGEST)
    Layout.place(temp, final)
    assert final.read_bytes() == b"x" and not temp.exists()
    assert list(layout.plain_objects()) == [final]
    Layout.remove(final)
    assert not final.exists()
    Layout.remove(final)  # already gone: no error
    Layout.remove(tmp_path / "no-folder" / "file")  # nor when its folder is gone
    assert list(layout.plain_objects()) == []


def test_plain_objects_lists_only_digest_named_files(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    assert list(layout.plain_objects()) == []  # no folder yet
    good = layout.plain(DIGEST)
    good.parent.mkdir(parents=True)
    good.write_bytes(b"x")
    (good.parent / "notes.txt").write_text("not an object")
    (layout.plain_dir / "top-level").write_text("neither")
    assert list(layout.plain_objects()) == [good]


def test_chunks_of_bytes_streams_and_iterables(tmp_path: Path) -> None:
    assert list(chunks(b"abc")) == [b"abc"]
    assert list(chunks(bytearray(b"abc"))) == [b"abc"]  # type: ignore[arg-type]
    assert list(chunks(memoryview(b"abc"))) == [b"abc"]
    big = b"z" * (CHUNK + 5)
    assert [len(c) for c in chunks(io.BytesIO(big))] == [CHUNK, 5]
    assert list(chunks(io.BytesIO(b""))) == []
    assert list(chunks(iter([b"a", b"b"]))) == [b"a", b"b"]
    path = tmp_path / "f"
    path.write_bytes(big)
    assert b"".join(file_chunks(path)) == big
    assert [len(c) for c in file_chunks(path)] == [CHUNK, 5]


def test_fsync_dir_needs_a_folder(tmp_path: Path) -> None:
    fsync_dir(tmp_path)
    with pytest.raises(FileNotFoundError):
        fsync_dir(tmp_path / "missing")


def test_a_laid_out_store_prepares_then_checks_its_master_key(tmp_path: Path) -> None:
    checked: list[Path] = []

    class Store(LaidOutStore):
        encrypted = False

        def check_master_key(self) -> None:
            checked.append(self.root)

    store = Store(tmp_path / "root")
    assert store.root == tmp_path / "root"
    store.prepare()
    assert checked == [tmp_path / "root"] and (tmp_path / "root" / "tmp").is_dir()
    with pytest.raises(NotImplementedError):
        LaidOutStore(tmp_path).check_master_key()

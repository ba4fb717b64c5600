"""SealedFiles (aimaas/security/sealed_files.py): one wrapped data key per folder, each file
sealed and bound to its owner and name; a renamed, altered or foreign file fails to open."""

from __future__ import annotations

from pathlib import Path

import pytest

from aimaas.crypto import IntegrityError, MasterKey
from aimaas.security.sealed_files import KEY_FILE, SealedFiles


def test_a_sealed_checkpoint_opens_only_for_its_job_and_key(tmp_path: Path) -> None:
    master = MasterKey.generate()
    folder = tmp_path / "checkpoint"
    codec = SealedFiles(master, folder, owner="tenant/job/job-1")
    sealed = codec.seal(b"weights", "epoch-000001.safetensors")
    assert codec.unseal(sealed, "epoch-000001.safetensors") == b"weights"
    with pytest.raises(IntegrityError):
        codec.unseal(sealed, "epoch-000002.safetensors")  # renamed
    with pytest.raises(IntegrityError):
        SealedFiles(master, folder, owner="tenant/job/job-2")  # another job's folder
    with pytest.raises(IntegrityError):
        SealedFiles(MasterKey.generate(), folder, owner="tenant/job/job-1")


def test_the_folder_and_its_wrapped_key_are_made_once_and_reopened(tmp_path: Path) -> None:
    master = MasterKey.generate()
    folder = tmp_path / "a" / "b"
    first = SealedFiles(master, folder, owner="t/job/j")
    assert sorted(p.name for p in folder.iterdir()) == [KEY_FILE]  # no temporary file left
    wrapped = (folder / KEY_FILE).read_bytes()
    sealed = first.seal(b"state", "state.json")
    again = SealedFiles(master, folder, owner="t/job/j")
    assert (folder / KEY_FILE).read_bytes() == wrapped  # the same data key, not a new one
    assert again.unseal(sealed, "state.json") == b"state"


def test_sealed_bytes_hide_the_data_and_fail_when_altered(tmp_path: Path) -> None:
    codec = SealedFiles(MasterKey.generate(), tmp_path, owner="t/job/j")
    data = b"secret weights " * 8
    sealed = codec.seal(data, "w.bin")
    assert b"secret weights" not in sealed
    assert codec.seal(data, "w.bin") != sealed  # a fresh nonce each time
    altered = bytearray(sealed)
    altered[-1] ^= 1
    with pytest.raises(IntegrityError):
        codec.unseal(bytes(altered), "w.bin")
    with pytest.raises(IntegrityError):
        codec.unseal(sealed[:-1], "w.bin")
    other_folder = SealedFiles(MasterKey.generate(), tmp_path / "other", owner="t/job/j")
    with pytest.raises(IntegrityError):
        other_folder.unseal(sealed, "w.bin")  # another folder's data key
    assert codec.unseal(codec.seal(b"", "empty"), "empty") == b""

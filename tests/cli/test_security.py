"""``aimaas security``: new-master-key, rotate-master-key, seal-existing and status, run
through the real CLI app on a real data directory."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aimaas.cli.backend import CliError
from aimaas.cli.main import app
from aimaas.config import Settings
from aimaas.crypto import MasterKey, new_key_text
from aimaas.errors import IntegrityFailed
from aimaas.registry.db import Database
from aimaas.registry.store import Owner, SealedStore
from tests.registry.store.filled import fill_without_key, occurrences


def said(output: str) -> str:
    return " ".join(output.split())  # Rich wraps long lines


def test_rotate_master_key_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    data = tmp_path / "data"
    old_file, new_file = tmp_path / "old.key", tmp_path / "new.key"
    for path in (old_file, new_file):
        result = runner.invoke(app, ["security", "new-master-key", "--out", str(path)])
        assert result.exit_code == 0, result.output
        assert path.stat().st_mode & 0o777 == 0o600
    assert runner.invoke(app, ["security", "new-master-key", "--out", str(old_file)]).exit_code
    old, new = MasterKey.from_file(old_file), MasterKey.from_file(new_file)
    settings = Settings(data_dir=data)
    data.mkdir()
    db = Database(settings.resolved_database_url)
    db.migrate()
    owner = Owner.file("tn", "file-1")
    digest = SealedStore(data / "artifacts", db=db, master_key=old).put(b"csv,data", owner)
    db.dispose()

    env = {"AIMAAS_DATA_DIR": str(data), "AIMAAS_SECURITY__MASTER_KEY_FILE": str(old_file)}
    status = runner.invoke(app, ["security", "status"], env=env)
    assert f"data keys wrapped by {old.id} (configured): 1" in status.output
    result = runner.invoke(
        app, ["security", "rotate-master-key", "--new-key-file", str(new_file)], env=env
    )
    assert result.exit_code == 0, result.output
    assert f"Re-wrapped 1 data keys under master key {new.id}" in " ".join(result.output.split())
    again = runner.invoke(
        app, ["security", "rotate-master-key", "--new-key-file", str(new_file)],
        env={**env, "AIMAAS_SECURITY__MASTER_KEY_FILE": str(new_file)},
    )  # fmt: skip
    assert isinstance(again.exception, CliError) and "is the current one" in str(again.exception)
    no_key = runner.invoke(
        app, ["security", "rotate-master-key", "--new-key-file", str(new_file)],
        env={"AIMAAS_DATA_DIR": str(data)},
    )  # fmt: skip
    assert isinstance(no_key.exception, CliError) and "No current master key" in str(
        no_key.exception
    )

    db = Database(settings.resolved_database_url)
    assert SealedStore(data / "artifacts", db=db, master_key=new).read(digest, owner) == (
        b"csv,data"
    )
    with pytest.raises(IntegrityFailed):
        SealedStore(data / "artifacts", db=db, master_key=old).read(digest, owner)
    db.dispose()


def test_seal_existing_needs_the_master_key(tmp_path: Path) -> None:
    fill_without_key(tmp_path / "data")
    result = CliRunner().invoke(
        app, ["security", "seal-existing"], env={"AIMAAS_DATA_DIR": str(tmp_path / "data")}
    )
    assert isinstance(result.exception, CliError)
    assert str(result.exception) == (
        "seal-existing needs the master key to seal with: set "
        "AIMAAS_SECURITY__MASTER_KEY_FILE (or AIMAAS_SECURITY__MASTER_KEY); "
        "`aimaas security new-master-key --out FILE` makes one."
    )


def test_status_and_seal_existing(tmp_path: Path) -> None:
    runner = CliRunner()
    data = tmp_path / "data"
    filled = fill_without_key(data)
    total = sum({item.digest: len(item.data) for item in filled.stored}.values())  # objects
    owned = sum(len(item.data) for item in filled.stored)  # each owner's artifact
    key_file = tmp_path / "master.key"
    key_file.write_text(new_key_text() + "\n")
    key = MasterKey.from_file(key_file)
    plain_env = {"AIMAAS_DATA_DIR": str(data)}
    env = {**plain_env, "AIMAAS_SECURITY__MASTER_KEY_FILE": str(key_file)}

    before = runner.invoke(app, ["security", "status", "--json"], env=plain_env)
    assert before.exit_code == 0, before.output
    found = json.loads(before.output)
    assert found["master_key_id"] is None and found["data_keys"] == {}
    assert found["plaintext"] == {"count": 13, "bytes": total}
    assert found["sealed"] == {"count": 0, "bytes": 0}
    assert found["unreferenced_plaintext"] == {"count": 1, "bytes": len(filled.unreferenced)}
    human = said(runner.invoke(app, ["security", "status"], env=plain_env).output)
    assert "configured master key: none (artifacts stored in plaintext)" in human
    assert "no encrypted artifacts" in human
    assert f"plaintext artifacts: 13 ({total:,} bytes); set a master key, then" in human

    sealed = runner.invoke(app, ["security", "seal-existing"], env=env)
    assert sealed.exit_code == 0, sealed.output
    output = said(sealed.output)
    assert len(re.findall(r"^sealed .+ \([0-9a-f]{12}\)$", sealed.output, re.MULTILINE)) == 13
    assert "sealed model 'iris' version 2" in output
    assert (
        f"Sealed 13 artifacts ({owned:,} bytes) under master key {key.id}; 0 were sealed "
        f"already; removed 12 plaintext objects ({total:,} bytes)."
    ) in output
    assert "1 plaintext objects (5,000 bytes)" in output and "left as they are" in output

    after = runner.invoke(app, ["security", "status", "--json"], env=env)
    found = json.loads(after.output)
    assert found["master_key_id"] == key.id and found["data_keys"] == {key.id: 13}
    assert found["sealed"] == {"count": 13, "bytes": owned}
    assert found["plaintext"] == {"count": 0, "bytes": 0} and found["missing"] == 0
    human = said(runner.invoke(app, ["security", "status"], env=env).output)
    assert f"data keys wrapped by {key.id} (configured): 13" in human
    assert f"sealed artifacts: 13 ({owned:,} bytes)" in human
    assert "plaintext artifacts: 0 (0 bytes)" in human

    again = runner.invoke(app, ["security", "seal-existing"], env=env)
    assert again.exit_code == 0, again.output
    assert "Sealed 0 artifacts (0 bytes)" in said(again.output)
    assert "13 were sealed already; removed 0 plaintext objects" in said(again.output)
    assert occurrences(data, filled.needles()) == {}
    db = filled.database()
    try:
        store = SealedStore(filled.settings.storage.artifacts_dir, db=db, master_key=key)
        for item in filled.stored:
            assert store.read(item.digest, item.owner) == item.data
    finally:
        db.dispose()


def test_seal_existing_refuses_another_master_key(tmp_path: Path) -> None:
    data = tmp_path / "data"
    filled = fill_without_key(data)
    db = filled.database()
    try:  # one artifact sealed under some key already
        item = filled.stored[0]
        store = SealedStore(
            filled.settings.storage.artifacts_dir, db=db, master_key=MasterKey.generate()
        )
        store.seal_plaintext(item.digest, item.owner)
    finally:
        db.dispose()
    other = tmp_path / "other.key"
    other.write_text(new_key_text() + "\n")
    result = CliRunner().invoke(
        app, ["security", "seal-existing"],
        env={"AIMAAS_DATA_DIR": str(data), "AIMAAS_SECURITY__MASTER_KEY_FILE": str(other)},
    )  # fmt: skip
    assert isinstance(result.exception, CliError) and "is not the one" in str(result.exception)
    assert len(list((data / "artifacts" / "sha256").rglob("*/*"))) == 13  # nothing removed

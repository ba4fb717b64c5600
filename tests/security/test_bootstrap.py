"""The first admin key: made once when no admin key is active, written to a file only its
owner can read, never made again while that key works."""

from __future__ import annotations

import stat
from pathlib import Path

from aimaas.registry import repository
from aimaas.registry.db import Database
from aimaas.security.authenticator import Authenticator
from aimaas.security.bootstrap import ADMIN_TENANT, ensure_admin_key, write_secret_file


def test_a_secret_file_is_0600_and_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "secret"
    write_secret_file(path, "one\n")
    write_secret_file(path, "two\n")
    assert path.read_text() == "two\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["secret"]  # no temp file left


def test_the_admin_key_is_made_once_and_works(db: Database, tmp_path: Path) -> None:
    key_file = tmp_path / "admin.key"
    key = ensure_admin_key(db, key_file)
    assert key is not None and key_file.read_text() == key + "\n"
    assert ensure_admin_key(db, key_file) is None  # an admin key is active: none made
    principal = Authenticator(db, ttl_seconds=0).lookup(key)
    assert principal is not None and principal.is_admin
    assert principal.tenant_name == ADMIN_TENANT


def test_a_revoked_admin_key_is_replaced(db: Database, tmp_path: Path) -> None:
    first = ensure_admin_key(db, tmp_path / "admin.key")
    assert first is not None
    with db.session() as session:
        for row in repository.list_keys(session):
            repository.revoke_key(session, key_id=row.id)
    second = ensure_admin_key(db, tmp_path / "admin.key")
    assert second is not None and second != first
    assert (tmp_path / "admin.key").read_text() == second + "\n"

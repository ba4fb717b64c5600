"""The first admin key (aimaas/security/bootstrap.py): made once when no active admin key
exists, kept in a 0600 file, stored only as a hash; and the secret-file writer."""

from __future__ import annotations

import stat
from pathlib import Path

from sqlalchemy import select

from aimaas.registry import repository
from aimaas.registry.db import Database
from aimaas.registry.tables import ApiKey, Tenant
from aimaas.security.bootstrap import ADMIN_TENANT, ensure_admin_key, write_secret_file
from aimaas.security.keys import find_active_key, hash_key, issue_key


def test_first_admin_key_is_created_once_and_stored_as_a_hash(tmp_path: Path, db: Database) -> None:
    key_file = tmp_path / "admin.key"
    key = ensure_admin_key(db, key_file)
    assert key is not None and key_file.read_text().strip() == key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert ensure_admin_key(db, key_file) is None
    with db.session() as session:
        rows = session.scalars(select(ApiKey)).all()
        assert len(rows) == 1 and rows[0].key_hash == hash_key(key)
        assert key not in (rows[0].key_hash, rows[0].prefix)
    raw = (tmp_path / "r.db").read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob("r.db-*")
    )
    assert key.encode() not in raw
    db.dispose()


def test_the_admin_key_belongs_to_the_admin_tenant_and_has_the_admin_scope(
    tmp_path: Path, db: Database
) -> None:
    key = ensure_admin_key(db, tmp_path / "keys" / "admin.key")
    assert key is not None
    with db.session() as session:
        row = find_active_key(session, plaintext=key)
        assert row is not None and row.scopes == ["admin"] and row.name == "bootstrap admin"
        tenant = session.get(Tenant, row.tenant_id)
        assert tenant is not None and tenant.name == ADMIN_TENANT


def test_a_new_admin_key_is_made_when_the_old_one_is_revoked(tmp_path: Path, db: Database) -> None:
    key_file = tmp_path / "admin.key"
    first = ensure_admin_key(db, key_file)
    assert first is not None
    with db.session() as session:
        row = find_active_key(session, plaintext=first)
        assert row is not None
        repository.revoke_key(session, key_id=row.id)
    second = ensure_admin_key(db, key_file)
    assert second is not None and second != first
    assert key_file.read_text() == second + "\n"
    with db.session() as session:
        assert find_active_key(session, plaintext=first) is None
        assert find_active_key(session, plaintext=second) is not None
        # The admin tenant is reused, not made twice.
        tenants = session.scalars(select(Tenant).where(Tenant.name == ADMIN_TENANT)).all()
        assert len(tenants) == 1
        assert len(session.scalars(select(ApiKey)).all()) == 2


def test_a_key_of_another_scope_does_not_count_as_an_admin_key(
    tmp_path: Path, db: Database
) -> None:
    with db.session() as session:
        tenant = repository.create_tenant(session, name="acme")
        issue_key(session, tenant=tenant, scopes=["infer", "models:read", "train"])
    assert ensure_admin_key(db, tmp_path / "admin.key") is not None


def test_write_secret_file_replaces_the_file_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "secret"
    write_secret_file(path, "one")
    assert path.read_text() == "one"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o644)
    write_secret_file(path, "two")
    assert path.read_text() == "two"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["secret"]  # no .tmp left

"""The first admin key: created when no usable admin key exists, shown once, kept in a file
readable only by its owner."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import select

from aimaas.protocol.scopes import Scope
from aimaas.registry import repository
from aimaas.registry.db import Database
from aimaas.registry.tables import Tenant
from aimaas.security.keys import issue_key

ADMIN_TENANT = "admin"


def write_secret_file(path: Path, content: str) -> None:
    """Write ``content`` to ``path`` with mode 0600, atomically and durably."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, content.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def ensure_admin_key(db: Database, key_file: Path) -> str | None:
    """Create an admin key if none is active; returns it when created, else None."""
    with db.session() as session:
        if repository.has_active_key_with_scope(session, scope=Scope.ADMIN.value):
            return None
        tenant = session.scalar(select(Tenant).where(Tenant.name == ADMIN_TENANT))
        if tenant is None:
            tenant = repository.create_tenant(session, name=ADMIN_TENANT)
        _, plaintext = issue_key(
            session, tenant=tenant, scopes=[Scope.ADMIN.value], name="bootstrap admin"
        )
        # Written before the commit: a crash in between leaves a stale file, never a lost key.
        write_secret_file(key_file, plaintext + "\n")
    return plaintext

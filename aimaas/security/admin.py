"""Administration of tenants and keys, answered in wire schemas.

The admin routes and the CLI's local backend both call these, so the two always agree.
"""

from __future__ import annotations

from datetime import datetime

from aimaas.protocol.admin import KeyCreated, KeyList, KeyOut, TenantList, TenantOut
from aimaas.registry import repository
from aimaas.registry.db import Database


def create_tenant(db: Database, *, name: str) -> TenantOut:
    with db.session() as session:
        return TenantOut.from_row(repository.create_tenant(session, name=name))


def list_tenants(db: Database) -> TenantList:
    with db.session() as session:
        return TenantList(data=[TenantOut.from_row(t) for t in repository.list_tenants(session)])


def create_key(
    db: Database,
    *,
    tenant: str,
    scopes: list[str],
    name: str | None = None,
    expires_at: datetime | None = None,
) -> KeyCreated:
    with db.session() as session:
        owner = repository.find_tenant(session, ref=tenant)
        row, plaintext = repository.create_key(
            session, tenant=owner, scopes=scopes, name=name, expires_at=expires_at
        )
        out = KeyOut.from_row(row, owner.name)
    # The transaction has committed: the key is durable before anyone sees it.
    return KeyCreated(**out.model_dump(), key=plaintext)


def list_keys(db: Database) -> KeyList:
    with db.session() as session:
        names = {t.id: t.name for t in repository.list_tenants(session)}
        rows = repository.list_keys(session)
        return KeyList(data=[KeyOut.from_row(r, names.get(r.tenant_id, "")) for r in rows])


def revoke_key(db: Database, *, key_id: str) -> KeyOut:
    with db.session() as session:
        row = repository.revoke_key(session, key_id=key_id)
        return KeyOut.from_row(row, repository.find_tenant(session, ref=row.tenant_id).name)

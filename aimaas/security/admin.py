"""Administration of tenants and keys, answered in wire schemas.

The admin routes and the CLI's local backend both call these, so the two always agree.
"""

from __future__ import annotations

from datetime import datetime

from aimaas.protocol.admin import KeyCreated, KeyList, KeyOut, TenantList, TenantOut
from aimaas.registry import repository
from aimaas.registry.db import Database
from aimaas.registry.tables import ApiKey, Tenant
from aimaas.security import keys


def tenant_out(tenant: Tenant) -> TenantOut:
    return TenantOut(id=tenant.id, name=tenant.name, created_at=tenant.created_at)


def key_out(row: ApiKey, tenant_name: str) -> KeyOut:
    return KeyOut(
        id=row.id,
        tenant=row.tenant_id,
        tenant_name=tenant_name,
        name=row.name,
        prefix=row.prefix,
        scopes=list(row.scopes),
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


def create_tenant(db: Database, *, name: str) -> TenantOut:
    with db.session() as session:
        return tenant_out(repository.create_tenant(session, name=name))


def list_tenants(db: Database) -> TenantList:
    with db.session() as session:
        return TenantList(data=[tenant_out(t) for t in repository.list_tenants(session)])


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
        row, plaintext = keys.issue_key(
            session, tenant=owner, scopes=scopes, name=name, expires_at=expires_at
        )
        out = key_out(row, owner.name)
    # The transaction has committed: the key is durable before anyone sees it.
    return KeyCreated(**out.model_dump(), key=plaintext)


def list_keys(db: Database) -> KeyList:
    with db.session() as session:
        names = {t.id: t.name for t in repository.list_tenants(session)}
        rows = repository.list_keys(session)
        return KeyList(data=[key_out(r, names.get(r.tenant_id, "")) for r in rows])


def revoke_key(db: Database, *, key_id: str) -> KeyOut:
    with db.session() as session:
        row = repository.revoke_key(session, key_id=key_id)
        return key_out(row, repository.find_tenant(session, ref=row.tenant_id).name)

"""Admin API: tenants and keys (scope ``admin``)."""

from __future__ import annotations

from fastapi import status

from aimaas.protocol.admin import (
    KeyCreate,
    KeyCreated,
    KeyList,
    KeyOut,
    TenantCreate,
    TenantList,
    TenantOut,
)
from aimaas.registry import repository
from aimaas.server.deps import AdminKey, ServicesDep
from aimaas.server.routes import new_router

router = new_router(prefix="/v1/admin", tags=["admin"])


@router.post("/tenants", status_code=status.HTTP_201_CREATED)
def create_tenant(body: TenantCreate, services: ServicesDep, _: AdminKey) -> TenantOut:
    with services.db.session() as session:
        return TenantOut.from_row(repository.create_tenant(session, name=body.name))


@router.get("/tenants")
def list_tenants(services: ServicesDep, _: AdminKey) -> TenantList:
    with services.db.session() as session:
        return TenantList(data=[TenantOut.from_row(t) for t in repository.list_tenants(session)])


@router.post("/keys", status_code=status.HTTP_201_CREATED)
def create_key(body: KeyCreate, services: ServicesDep, _: AdminKey) -> KeyCreated:
    with services.db.session() as session:
        tenant = repository.find_tenant(session, ref=body.tenant)
        row, plaintext = repository.create_key(
            session,
            tenant=tenant,
            scopes=[scope.value for scope in body.scopes],
            name=body.name,
            expires_at=body.expires_at,
        )
        out = KeyOut.from_row(row, tenant.name)
    # The transaction has committed: the key is durable before the client ever sees it.
    return KeyCreated(**out.model_dump(), key=plaintext)


@router.get("/keys")
def list_keys(services: ServicesDep, _: AdminKey) -> KeyList:
    with services.db.session() as session:
        names = {t.id: t.name for t in repository.list_tenants(session)}
        rows = repository.list_keys(session)
        return KeyList(data=[KeyOut.from_row(row, names.get(row.tenant_id, "")) for row in rows])


@router.delete("/keys/{key_id}")
def revoke_key(key_id: str, services: ServicesDep, _: AdminKey) -> KeyOut:
    with services.db.session() as session:
        row = repository.revoke_key(session, key_id=key_id)
        return KeyOut.from_row(row, repository.find_tenant(session, ref=row.tenant_id).name)

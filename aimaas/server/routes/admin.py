"""Admin API: tenants and keys (scope ``admin``)."""

from __future__ import annotations

from fastapi import status

from aimaas.protocol.admin import (
    KeyCreate,
    KeyCreated,
    KeyList,
    KeyOut,
    ModelRegister,
    ModelRegistered,
    TenantCreate,
    TenantList,
    TenantOut,
)
from aimaas.runtime.registration import register_local_model
from aimaas.security import admin
from aimaas.server.audit import Audit
from aimaas.server.deps import AdminKey, ServicesDep
from aimaas.server.routes import new_router

router = new_router(prefix="/v1/admin", tags=["admin"])


@router.post("/tenants", status_code=status.HTTP_201_CREATED)
def create_tenant(
    body: TenantCreate, services: ServicesDep, _: AdminKey, audit: Audit
) -> TenantOut:
    tenant = admin.create_tenant(services.db, name=body.name)
    return audit.log("tenant.create", tenant, tenant=tenant.id, name=tenant.name)


@router.get("/tenants")
def list_tenants(services: ServicesDep, _: AdminKey) -> TenantList:
    return admin.list_tenants(services.db)


@router.post("/keys", status_code=status.HTTP_201_CREATED)
def create_key(body: KeyCreate, services: ServicesDep, _: AdminKey, audit: Audit) -> KeyCreated:
    created = admin.create_key(
        services.db,
        tenant=body.tenant,
        scopes=[scope.value for scope in body.scopes],
        name=body.name,
        expires_at=body.expires_at,
    )
    return audit.log("key.create", created, tenant=created.tenant, scopes=created.scopes)


@router.get("/keys")
def list_keys(services: ServicesDep, _: AdminKey) -> KeyList:
    return admin.list_keys(services.db)


@router.delete("/keys/{key_id}")
def revoke_key(key_id: str, services: ServicesDep, _: AdminKey, audit: Audit) -> KeyOut:
    revoked = admin.revoke_key(services.db, key_id=key_id)
    services.authenticator.forget_all()  # the revocation holds from the next request on
    return audit.log("key.revoke", revoked, tenant=revoked.tenant)


@router.post("/models", status_code=status.HTTP_201_CREATED)
def register_model(
    body: ModelRegister, services: ServicesDep, _: AdminKey, audit: Audit
) -> ModelRegistered:
    """Register a GGUF file or sentence-transformers folder on the server's disk."""
    registered = register_local_model(services.db, body)
    services.specs.forget()  # serve the new version from the next request on
    target = f"{registered.name}:{registered.version}"
    return audit.log(
        "model.register",
        registered,
        target=target,
        format=registered.format,
        owner=registered.owner,
        path=body.gguf or body.hf_dir,
    )

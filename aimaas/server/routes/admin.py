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
from aimaas.server.deps import AdminKey, AuthenticatorDep, DatabaseDep, SpecsDep
from aimaas.server.routes import new_router

router = new_router(prefix="/v1/admin", tags=["admin"])


@router.post("/tenants", status_code=status.HTTP_201_CREATED)
def create_tenant(body: TenantCreate, db: DatabaseDep, _: AdminKey, audit: Audit) -> TenantOut:
    tenant = admin.create_tenant(db, name=body.name)
    return audit.log("tenant.create", tenant, tenant=tenant.id, name=tenant.name)


@router.get("/tenants")
def list_tenants(db: DatabaseDep, _: AdminKey) -> TenantList:
    return admin.list_tenants(db)


@router.post("/keys", status_code=status.HTTP_201_CREATED)
def create_key(body: KeyCreate, db: DatabaseDep, _: AdminKey, audit: Audit) -> KeyCreated:
    created = admin.create_key(
        db,
        tenant=body.tenant,
        scopes=[scope.value for scope in body.scopes],
        name=body.name,
        expires_at=body.expires_at,
    )
    return audit.log("key.create", created, tenant=created.tenant, scopes=created.scopes)


@router.get("/keys")
def list_keys(db: DatabaseDep, _: AdminKey) -> KeyList:
    return admin.list_keys(db)


@router.delete("/keys/{key_id}")
def revoke_key(
    key_id: str, db: DatabaseDep, authenticator: AuthenticatorDep, _: AdminKey, audit: Audit
) -> KeyOut:
    revoked = admin.revoke_key(db, key_id=key_id)
    authenticator.forget_all()  # the revocation holds from the next request on
    return audit.log("key.revoke", revoked, tenant=revoked.tenant)


@router.post("/models", status_code=status.HTTP_201_CREATED)
def register_model(
    body: ModelRegister, db: DatabaseDep, specs: SpecsDep, _: AdminKey, audit: Audit
) -> ModelRegistered:
    """Register a GGUF file or sentence-transformers folder on the server's disk."""
    registered = register_local_model(db, body)
    specs.forget()  # serve the new version from the next request on
    target = f"{registered.name}:{registered.version}"
    return audit.log(
        "model.register",
        registered,
        target=target,
        format=registered.format,
        owner=registered.owner,
        path=body.gguf or body.hf_dir,
    )

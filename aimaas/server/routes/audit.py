"""``GET /v1/admin/audit``: the audit log, newest first (scope ``admin``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Query

from aimaas.protocol.audit import AuditList
from aimaas.security.audit import MAX_LIMIT, audit_list
from aimaas.server.deps import AdminKey, DatabaseDep
from aimaas.server.routes import new_router

router = new_router(prefix="/v1/admin", tags=["admin"])


@router.get("/audit")
def list_audit(
    db: DatabaseDep,
    _: AdminKey,
    tenant: Annotated[str | None, Query(max_length=64, description="Tenant id or name.")] = None,
    action: Annotated[
        str | None, Query(max_length=32, description="e.g. key.create, or key. for all keys.")
    ] = None,
    since: Annotated[datetime | None, Query(description="ISO 8601; naive means UTC.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> AuditList:
    return audit_list(db, tenant=tenant, action=action, since=since, limit=limit)

"""Limits and usage: ``/v1/admin/{keys,tenants}/{id}/limits`` (scope ``admin``) and
``/v1/usage`` (any key: its own usage; admins: anyone's)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from aimaas.protocol.limits import KeyLimitsSet, LimitsOut, TenantLimitsSet, UsageList, UsageQuery
from aimaas.server.audit import Audit
from aimaas.server.deps import AdminKey, AnyKey, QuotasDep
from aimaas.server.routes import new_router

router = new_router(prefix="/v1", tags=["limits"])


@router.get("/admin/keys/{key_id}/limits")
async def get_key_limits(key_id: str, quotas: QuotasDep, _: AdminKey) -> LimitsOut:
    return await quotas.get_limits("key", key_id)


@router.put("/admin/keys/{key_id}/limits")
async def set_key_limits(
    key_id: str, body: KeyLimitsSet, quotas: QuotasDep, _: AdminKey, audit: Audit
) -> LimitsOut:
    """Replace a key's limits (null or missing: none); they apply from the next request."""
    done = await quotas.set_limits("key", key_id, body.model_dump())
    return await audit.alog("limits.set", done, subject="key", limits=done.limits)


@router.get("/admin/tenants/{tenant}/limits")
async def get_tenant_limits(tenant: str, quotas: QuotasDep, _: AdminKey) -> LimitsOut:
    return await quotas.get_limits("tenant", tenant)


@router.put("/admin/tenants/{tenant}/limits")
async def set_tenant_limits(
    tenant: str, body: TenantLimitsSet, quotas: QuotasDep, _: AdminKey, audit: Audit
) -> LimitsOut:
    """Replace a tenant's limits (every key of the tenant together; null: none)."""
    done = await quotas.set_limits("tenant", tenant, body.model_dump())
    return await audit.alog(
        "limits.set", done, tenant=done.id, subject="tenant", limits=done.limits
    )


@router.get("/usage")
async def get_usage(
    quotas: QuotasDep, caller: AnyKey, query: Annotated[UsageQuery, Query()]
) -> UsageList:
    """Usage by day, model and key, with the limits that bind it and what remains."""
    return await quotas.report(caller, query)

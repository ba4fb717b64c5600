"""Optimizations: /v1/optimizations (submit, list, get, cancel; the methods)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from aimaas.optimize import methods
from aimaas.optimize.job_kind import OPTIMIZATION
from aimaas.protocol.optimizations import (
    OptimizationCreate,
    OptimizationList,
    OptimizationObject,
)
from aimaas.server.audit import Audit
from aimaas.server.deps import JobsDep, QuotasDep, Trainer
from aimaas.server.routes import new_router

router = new_router(prefix="/v1/optimizations", tags=["optimizations"])


@router.get("/methods")
def list_methods(_: Trainer) -> dict[str, Any]:
    """The methods, the algorithms each takes, and each one's options (JSON Schema)."""
    return {"object": "list", "data": methods.describe()}


@router.post("", status_code=201)
async def create_optimization(
    body: OptimizationCreate, jobs: JobsDep, quotas: QuotasDep, caller: Trainer, audit: Audit
) -> OptimizationObject:
    async with quotas.job(caller):  # the tenant's jobs_per_day
        job = await jobs.submit(OPTIMIZATION, caller.tenant_id, body)
    return await audit.alog("job.create", job, kind="optimization", model=job.source_model)


@router.get("")
def list_optimizations(
    jobs: JobsDep,
    caller: Trainer,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> OptimizationList:
    return OptimizationList(data=jobs.list(OPTIMIZATION, caller.tenant_id, limit))


@router.get("/{optimization_id}")
def get_optimization(optimization_id: str, jobs: JobsDep, caller: Trainer) -> OptimizationObject:
    return jobs.get(OPTIMIZATION, caller.tenant_id, optimization_id)


@router.post("/{optimization_id}/cancel")
def cancel_optimization(
    optimization_id: str, jobs: JobsDep, caller: Trainer, audit: Audit
) -> OptimizationObject:
    cancelled = jobs.cancel(OPTIMIZATION, caller.tenant_id, optimization_id)
    return audit.log("job.cancel", cancelled)

"""Evaluations (/v1/evaluations), a model's evaluations and its aliases with the promotion
gate (/v1/models/{name}/evaluations, /v1/models/{name}/aliases)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from aimaas.protocol.evaluations import (
    AliasDeleted,
    AliasList,
    AliasObject,
    AliasSet,
    EvaluationCreate,
    EvaluationList,
    EvaluationObject,
)
from aimaas.protocol.scopes import Scope
from aimaas.security.principal import Principal
from aimaas.server.audit import Audit
from aimaas.server.deps import ServicesDep, Trainer, require_any
from aimaas.server.routes import new_router

router = new_router(prefix="/v1", tags=["evaluations"])

# Reading evaluations: the readers of models, and the trainers who submit them.
Reader = Annotated[Principal, Depends(require_any(Scope.MODELS_READ, Scope.INFER, Scope.TRAIN))]
ModelsWriter = Annotated[Principal, Depends(require_any(Scope.MODELS_WRITE))]


@router.post("/evaluations", status_code=201)
async def create_evaluation(
    body: EvaluationCreate, services: ServicesDep, caller: Trainer, audit: Audit
) -> EvaluationObject:
    async with services.quotas.job(caller):  # the tenant's jobs_per_day
        job = await services.evaluations.submit(caller.tenant_id, body)
    return await audit.alog("job.create", job, kind="evaluation", model=job.model)


@router.get("/evaluations")
def list_evaluations(
    services: ServicesDep,
    caller: Reader,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EvaluationList:
    return services.evaluations.list(caller.tenant_id, limit)


@router.get("/evaluations/{evaluation_id}")
def get_evaluation(evaluation_id: str, services: ServicesDep, caller: Reader) -> EvaluationObject:
    return services.evaluations.get(caller.tenant_id, evaluation_id)


@router.get("/evaluations/{evaluation_id}/report", response_class=Response)
async def evaluation_report(evaluation_id: str, services: ServicesDep, caller: Reader) -> Response:
    """The evaluation's HTML page: metrics, per-class table, confusion matrix and plots."""
    page = await run_in_threadpool(services.evaluations.report, caller.tenant_id, evaluation_id)
    return Response(
        page,
        media_type="text/html; charset=utf-8",
        headers={
            # Self-contained: inline styles and data: images only, nothing else may load.
            "Content-Security-Policy": "default-src 'none'; img-src data:; "
            "style-src 'unsafe-inline'",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/models/{name}/evaluations")
def model_evaluations(
    name: str,
    services: ServicesDep,
    caller: Reader,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> EvaluationList:
    """Every evaluation of every version of the model, newest first, to compare versions."""
    return services.evaluations.of_model(caller.tenant_id, name, limit)


@router.get("/models/{name}/aliases")
def list_aliases(name: str, services: ServicesDep, caller: Reader) -> AliasList:
    return services.evaluations.aliases(caller.tenant_id, name)


@router.put("/models/{name}/aliases/{alias}")
def set_alias(
    name: str, alias: str, body: AliasSet, services: ServicesDep, caller: ModelsWriter, audit: Audit
) -> AliasObject:
    """Point ``alias`` at a version; with ``require``, only if its newest evaluation passes
    the gate (409 with both numbers when it does not)."""
    done = services.evaluations.set_alias(caller.tenant_id, name, alias, body)
    return audit.log("model.alias", done, target=f"{done.model}@{done.alias}", version=done.version)


@router.delete("/models/{name}/aliases/{alias}")
def delete_alias(
    name: str, alias: str, services: ServicesDep, caller: ModelsWriter, audit: Audit
) -> AliasDeleted:
    done = services.evaluations.delete_alias(caller.tenant_id, name, alias)
    return audit.log("model.alias.delete", done, target=f"{done.model}@{done.alias}")

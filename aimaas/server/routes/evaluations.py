"""Evaluations (/v1/evaluations) and a model's evaluations (/v1/models/{name}/evaluations)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from aimaas.evaluate.job_kind import EVALUATION
from aimaas.protocol.evaluations import EvaluationCreate, EvaluationList, EvaluationObject
from aimaas.server.audit import Audit
from aimaas.server.deps import EvaluationsDep, EvaluationsReader, JobsDep, QuotasDep, Trainer
from aimaas.server.routes import new_router

router = new_router(prefix="/v1", tags=["evaluations"])


@router.post("/evaluations", status_code=201)
async def create_evaluation(
    body: EvaluationCreate, jobs: JobsDep, quotas: QuotasDep, caller: Trainer, audit: Audit
) -> EvaluationObject:
    async with quotas.job(caller):  # the tenant's jobs_per_day
        job = await jobs.submit(EVALUATION, caller.tenant_id, body)
    return await audit.alog("job.create", job, kind="evaluation", model=job.model)


@router.get("/evaluations")
def list_evaluations(
    jobs: JobsDep,
    caller: EvaluationsReader,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EvaluationList:
    return EvaluationList(data=jobs.list(EVALUATION, caller.tenant_id, limit))


@router.get("/evaluations/{evaluation_id}")
def get_evaluation(
    evaluation_id: str, jobs: JobsDep, caller: EvaluationsReader
) -> EvaluationObject:
    return jobs.get(EVALUATION, caller.tenant_id, evaluation_id)


@router.get("/evaluations/{evaluation_id}/report", response_class=Response)
async def evaluation_report(
    evaluation_id: str, evaluations: EvaluationsDep, caller: EvaluationsReader
) -> Response:
    """The evaluation's HTML page: metrics, per-class table, confusion matrix and plots."""
    page = await run_in_threadpool(evaluations.report, caller.tenant_id, evaluation_id)
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
    evaluations: EvaluationsDep,
    caller: EvaluationsReader,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> EvaluationList:
    """Every evaluation of every version of the model, newest first, to compare versions."""
    return EvaluationList(data=evaluations.of_model(caller.tenant_id, name, limit))

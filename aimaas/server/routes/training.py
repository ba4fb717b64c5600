"""Training jobs: /v1/training/jobs (submit, list, get, events, cancel)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from aimaas.learn import algorithms
from aimaas.learn.job_kind import TRAINING
from aimaas.protocol.jobs import JobEventList, TrainingJob, TrainingJobCreate, TrainingJobList
from aimaas.server.audit import Audit
from aimaas.server.deps import JobsDep, QuotasDep, Trainer
from aimaas.server.routes import new_router

router = new_router(prefix="/v1/training", tags=["training"])


@router.get("/algorithms")
def list_algorithms(_: Trainer) -> dict[str, Any]:
    """The algorithms, the data each trains on, and each one's hyperparameters (JSON
    Schema with defaults and bounds)."""
    return {"object": "list", "data": algorithms.describe()}


@router.post("/jobs", status_code=201)
async def create_job(
    body: TrainingJobCreate, jobs: JobsDep, quotas: QuotasDep, caller: Trainer, audit: Audit
) -> TrainingJob:
    async with quotas.job(caller):  # the tenant's jobs_per_day
        job = await jobs.submit(TRAINING, caller.tenant_id, body)
    return await audit.alog("job.create", job, kind="training", model=job.model)


@router.get("/jobs")
def list_jobs(
    jobs: JobsDep,
    caller: Trainer,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> TrainingJobList:
    return TrainingJobList(data=jobs.list(TRAINING, caller.tenant_id, limit))


@router.get("/jobs/{job_id}")
def get_job(job_id: str, jobs: JobsDep, caller: Trainer) -> TrainingJob:
    return jobs.get(TRAINING, caller.tenant_id, job_id)


@router.post("/jobs/{job_id}/cancel")
def cancel_job(job_id: str, jobs: JobsDep, caller: Trainer, audit: Audit) -> TrainingJob:
    return audit.log("job.cancel", jobs.cancel(TRAINING, caller.tenant_id, job_id))


@router.get("/jobs/{job_id}/events", response_model=None)
async def job_events(
    job_id: str,
    request: Request,
    jobs: JobsDep,
    caller: Trainer,
    after: Annotated[int, Query(ge=0, description="Only events with a larger id.")] = 0,
) -> JobEventList | Response:
    """A JSON list of the events so far, or, with ``Accept: text/event-stream``, every event
    as it happens until the job ends."""
    page, _ = await run_in_threadpool(jobs.events, TRAINING, caller.tenant_id, job_id, after)
    if "text/event-stream" not in request.headers.get("accept", ""):
        return page

    async def stream() -> AsyncIterator[bytes]:
        async for event in jobs.follow(TRAINING, caller.tenant_id, job_id, after=after):
            yield b"data: " + event.model_dump_json().encode() + b"\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )

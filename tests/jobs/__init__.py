"""A small job kind of the tests' own, registered and run like the built-in ones: ``count``
counts up to ``n`` in its handler, one event per number, checking for a stop between
numbers; its Finalize step records a row (a tenant) with the job's end."""

from __future__ import annotations

import os
import signal
from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from aimaas.errors import InvalidInput, NotFound
from aimaas.jobs.context import Finalize, JobContext
from aimaas.jobs.kinds import JobKind, Submission
from aimaas.jobs.record import JobRecord
from aimaas.registry import jobs, repository
from aimaas.registry.db import Database


class CountRequest(BaseModel):
    n: int
    then: Literal["finish", "fail", "crash", "wait_for_cancel", "sigterm"] = "finish"


class CountSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    n: int
    then: str
    tenant: str  # the submitter's, resolved at submit


class CountResult(BaseModel):
    total: int


class CountView(BaseModel):
    id: str
    status: str
    n: int
    total: int | None


def validate(submission: Submission, request: CountRequest) -> CountSpec:
    if request.n < 0:
        raise InvalidInput("n must be at least 0.", param="n")
    return CountSpec(n=request.n, then=request.then, tenant=submission.tenant_id)


def count(context: JobContext[CountSpec]) -> Finalize[CountResult]:
    spec = context.spec
    for i in range(spec.n):
        context.check_stop()
        context.event({"type": "count", "i": i})
    if spec.then == "fail":
        raise InvalidInput("counting failed on purpose", param="n")
    if spec.then == "crash":
        raise RuntimeError("a bug with a /secret/path in its message")
    if spec.then == "sigterm":
        os.kill(os.getpid(), signal.SIGTERM)  # the worker's handler only marks the context
        context.check_stop()
    if spec.then == "wait_for_cancel":
        while not context.should_stop():
            context.terminated.wait(0.05)
        context.check_stop()

    def record(session: Session) -> CountResult:
        repository.create_tenant(session, name=f"counted-{context.job_id[-6:]}")
        return CountResult(total=spec.n)

    return record


def view(job: JobRecord[CountSpec, CountResult]) -> CountView:
    return CountView(
        id=job.id,
        status=job.status,
        n=job.spec.n,
        total=None if job.result is None else job.result.total,
    )


COUNT: JobKind[CountRequest, CountSpec, CountResult, CountView] = JobKind(
    name="count",
    spec=CountSpec,
    result=CountResult,
    validate=validate,
    handler=count,
    view=view,
    not_found=lambda job_id: NotFound(f"No count {job_id!r}.", param="count_id"),
)


def claim(db: Database) -> str:
    """Move the oldest queued job to running, as the runner does before it starts a worker."""
    with db.session() as session:
        job = jobs.claim_next(session, kinds=[COUNT.name])
        assert job is not None
        return job.id

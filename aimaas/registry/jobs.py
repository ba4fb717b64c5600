"""Jobs in the registry: plain functions taking a session. A job's status moves
queued -> running -> succeeded | failed | cancelled, and back to queued when its worker
was stopped (shutdown, crash) before it finished: it then resumes from its checkpoint."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from aimaas.errors import NotFound
from aimaas.registry.ids import new_id
from aimaas.registry.tables import Job, JobEvent, utcnow

TERMINAL = ("succeeded", "failed", "cancelled")


def create_job(session: Session, *, tenant_id: str, kind: str, spec: dict[str, Any]) -> Job:
    job = Job(id=new_id("job"), tenant_id=tenant_id, kind=kind, status="queued", spec=spec)
    session.add(job)
    session.flush()
    return job


def get_job(
    session: Session, *, job_id: str, tenant_id: str | None, kind: str | None = None
) -> Job:
    """The job, if it belongs to ``tenant_id`` (None: any tenant, for admins and workers)
    and is of ``kind`` (None: any)."""
    job = session.get(Job, job_id)
    if (
        job is None
        or (kind is not None and job.kind != kind)
        or (tenant_id is not None and job.tenant_id != tenant_id)
    ):
        raise NotFound(f"No {kind or ''} job {job_id!r}.".replace("  ", " "), param="job_id")
    return job


def list_jobs(
    session: Session, *, tenant_id: str | None, kind: str, limit: int = 100
) -> Sequence[Job]:
    query = select(Job).where(Job.kind == kind)
    if tenant_id is not None:
        query = query.where(Job.tenant_id == tenant_id)
    return session.scalars(query.order_by(Job.created_at.desc(), Job.id).limit(limit)).all()


def claim_next(session: Session, *, kinds: Sequence[str]) -> Job | None:
    """Atomically move the oldest queued job to running and return it."""
    candidates = session.scalars(
        select(Job.id)
        .where(Job.status == "queued", Job.kind.in_(kinds))
        .order_by(Job.created_at, Job.id)
        .limit(8)
    ).all()
    for job_id in candidates:
        claimed = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == "queued")
            .values(status="running", attempts=Job.attempts + 1)
        )
        if claimed.rowcount == 1:  # type: ignore[attr-defined]
            job = session.get(Job, job_id)
            assert job is not None
            session.refresh(job)
            if job.started_at is None:
                job.started_at = utcnow()
            return job
    return None


def requeue_orphans(session: Session, *, kinds: Sequence[str]) -> list[str]:
    """Jobs marked running with no worker (the server died): back to the queue."""
    ids = session.scalars(select(Job.id).where(Job.status == "running", Job.kind.in_(kinds))).all()
    if ids:
        session.execute(update(Job).where(Job.id.in_(ids)).values(status="queued"))
    return list(ids)


def request_cancel(session: Session, job: Job) -> None:
    if job.status in TERMINAL:
        return
    if job.status == "queued":
        finish(session, job, status="cancelled")
    else:
        job.cancel_requested = True


def cancel_requested(session: Session, *, job_id: str) -> bool:
    return bool(session.scalar(select(Job.cancel_requested).where(Job.id == job_id)))


def finish(
    session: Session,
    job: Job,
    *,
    status: str,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    job.status = status
    job.result = result
    job.error = error
    job.finished_at = utcnow()
    add_event(session, job_id=job.id, data={"type": "status", "status": status, "error": error})


def requeue(session: Session, job: Job) -> None:
    """A worker stopped before the end (shutdown): the job resumes later."""
    if job.status == "running":
        job.status = "queued"


def add_event(session: Session, *, job_id: str, data: dict[str, Any]) -> None:
    session.add(JobEvent(job_id=job_id, data=data))


def list_events(session: Session, *, job_id: str, after: int = 0) -> Sequence[JobEvent]:
    return session.scalars(
        select(JobEvent).where(JobEvent.job_id == job_id, JobEvent.id > after).order_by(JobEvent.id)
    ).all()

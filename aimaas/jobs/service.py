"""What the job routes mean, for every kind: submit, look at, list, cancel and follow."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from aimaas.config import Settings
from aimaas.errors import NotFound
from aimaas.jobs.kinds import JobKind, Submission
from aimaas.jobs.record import JobRecord
from aimaas.protocol.jobs import TERMINAL, JobEventList, JobEventOut
from aimaas.registry import jobs
from aimaas.registry.db import Database
from aimaas.registry.store import ArtifactStore
from aimaas.registry.tables import Job, JobEvent

RequestT = TypeVar("RequestT", bound=BaseModel)
SpecT = TypeVar("SpecT", bound=BaseModel)
ResultT = TypeVar("ResultT", bound=BaseModel)
ViewT = TypeVar("ViewT", bound=BaseModel)


def event_out(event: JobEvent) -> JobEventOut:
    data = dict(event.data)
    kind = str(data.pop("type", "info"))
    return JobEventOut(
        id=event.id, created_at=int(event.created_at.timestamp()), type=kind, data=data
    )


class JobService:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        store: ArtifactStore,
        *,
        wake: Callable[[], None],  # the runner's: look for queued jobs now
    ) -> None:
        self.settings = settings
        self.db = db
        self.store = store
        self.wake = wake

    async def submit(
        self, kind: JobKind[RequestT, SpecT, ResultT, ViewT], tenant_id: str, request: RequestT
    ) -> ViewT:
        view = await run_in_threadpool(self.create, kind, tenant_id, request)
        self.wake()
        return view

    def create(
        self, kind: JobKind[RequestT, SpecT, ResultT, ViewT], tenant_id: str, request: RequestT
    ) -> ViewT:
        """Validate ``request`` (a 4xx naming the field when it is wrong) and queue the job."""
        submission = Submission(self.settings, self.db, self.store, tenant_id)
        spec = kind.validate(submission, request)
        with self.db.session() as session:
            row = jobs.create_job(
                session, tenant_id=tenant_id, kind=kind.name, spec=spec.model_dump(mode="json")
            )
            jobs.add_event(session, job_id=row.id, data={"type": "status", "status": "queued"})
            return kind.view(kind.record(row, spec))

    def record(
        self, kind: JobKind[RequestT, SpecT, ResultT, ViewT], tenant_id: str, job_id: str
    ) -> JobRecord[SpecT, ResultT]:
        with self.db.session() as session:
            return kind.record(_row(session, kind, tenant_id, job_id))

    def get(
        self, kind: JobKind[RequestT, SpecT, ResultT, ViewT], tenant_id: str, job_id: str
    ) -> ViewT:
        return kind.view(self.record(kind, tenant_id, job_id))

    def records(
        self, kind: JobKind[RequestT, SpecT, ResultT, ViewT], tenant_id: str, limit: int
    ) -> list[JobRecord[SpecT, ResultT]]:
        """The tenant's jobs of ``kind``, newest first."""
        with self.db.session() as session:
            rows = jobs.list_jobs(session, tenant_id=tenant_id, kind=kind.name, limit=limit)
            return [kind.record(row) for row in rows]

    def list(
        self, kind: JobKind[RequestT, SpecT, ResultT, ViewT], tenant_id: str, limit: int
    ) -> list[ViewT]:
        return [kind.view(record) for record in self.records(kind, tenant_id, limit)]

    def cancel(
        self, kind: JobKind[RequestT, SpecT, ResultT, ViewT], tenant_id: str, job_id: str
    ) -> ViewT:
        """A queued job ends at once; a running one stops at its next check (its view says
        ``running`` until then)."""
        with self.db.session() as session:
            row = _row(session, kind, tenant_id, job_id)
            jobs.request_cancel(session, row)
            return kind.view(kind.record(row))

    def events(
        self,
        kind: JobKind[RequestT, SpecT, ResultT, ViewT],
        tenant_id: str,
        job_id: str,
        after: int = 0,
    ) -> tuple[JobEventList, bool]:
        """Events after id ``after``, and whether the job has ended."""
        with self.db.session() as session:
            row = _row(session, kind, tenant_id, job_id)
            events = jobs.list_events(session, job_id=job_id, after=after)
            return JobEventList(data=[event_out(e) for e in events]), row.status in TERMINAL

    async def follow(
        self,
        kind: JobKind[RequestT, SpecT, ResultT, ViewT],
        tenant_id: str,
        job_id: str,
        *,
        after: int = 0,
        poll_seconds: float = 0.25,
    ) -> AsyncIterator[JobEventOut]:
        """Every event of the job after id ``after``, as they come, until it ends."""
        while True:
            page, ended = await run_in_threadpool(self.events, kind, tenant_id, job_id, after)
            for event in page.data:
                yield event
                after = event.id
            if ended and not page.data:
                return
            if not page.data:
                await asyncio.sleep(poll_seconds)


def _row(
    session: Session, kind: JobKind[RequestT, SpecT, ResultT, ViewT], tenant_id: str, job_id: str
) -> Job:
    try:
        return jobs.get_job(session, job_id=job_id, tenant_id=tenant_id, kind=kind.name)
    except NotFound:
        if kind.not_found is None:
            raise
        raise kind.not_found(job_id) from None

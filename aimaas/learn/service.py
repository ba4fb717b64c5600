"""What the training routes mean: submit, look at, follow and cancel training jobs."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

from starlette.concurrency import run_in_threadpool

from aimaas.config import Settings
from aimaas.jobs.runner import JobRunner
from aimaas.learn import hyperparameters
from aimaas.learn.inputs import load_training_data
from aimaas.protocol.jobs import (
    TERMINAL,
    JobEventList,
    JobEventOut,
    TrainingJob,
    TrainingJobCreate,
    TrainingJobList,
)
from aimaas.registry import jobs
from aimaas.registry.db import Database
from aimaas.registry.store import ArtifactStore

KIND = "training"


class TrainingService:
    def __init__(
        self, settings: Settings, db: Database, store: ArtifactStore, runner: JobRunner
    ) -> None:
        self.settings = settings
        self.db = db
        self.store = store
        self.runner = runner

    async def submit(self, tenant_id: str, request: TrainingJobCreate) -> TrainingJob:
        job = await run_in_threadpool(self._create, tenant_id, request)
        self.runner.wake()
        return job

    def _create(self, tenant_id: str, request: TrainingJobCreate) -> TrainingJob:
        params = hyperparameters.parse(request.algorithm, request.hyperparameters)
        split = request.validation_split
        if split is None and request.validation_file:
            split = 0.0
        elif split is None:
            split = self.settings.training.default_validation_split
        spec = {
            "model": request.model,
            "algorithm": request.algorithm,
            "training_file": request.training_file,
            "validation_file": request.validation_file,
            "validation_split": split,
            "target": request.target,
            "hyperparameters": params.model_dump(mode="json"),
            "seed": request.seed if request.seed is not None else secrets.randbelow(2**31),
        }
        # Read the data now: a wrong file, target or shape is a 400 today, not a failed job.
        load_training_data(self.db, self.store, tenant_id=tenant_id, spec=spec)
        with self.db.session() as session:
            job = jobs.create_job(session, tenant_id=tenant_id, kind=KIND, spec=spec)
            jobs.add_event(session, job_id=job.id, data={"type": "status", "status": "queued"})
            return TrainingJob.from_row(job)

    def get(self, tenant_id: str, job_id: str) -> TrainingJob:
        with self.db.session() as session:
            return TrainingJob.from_row(
                jobs.get_job(session, job_id=job_id, tenant_id=tenant_id, kind=KIND)
            )

    def list(self, tenant_id: str, limit: int) -> TrainingJobList:
        with self.db.session() as session:
            rows = jobs.list_jobs(session, tenant_id=tenant_id, kind=KIND, limit=limit)
            return TrainingJobList(data=[TrainingJob.from_row(row) for row in rows])

    def cancel(self, tenant_id: str, job_id: str) -> TrainingJob:
        with self.db.session() as session:
            job = jobs.get_job(session, job_id=job_id, tenant_id=tenant_id, kind=KIND)
            jobs.request_cancel(session, job)
            return TrainingJob.from_row(job)

    def events(self, tenant_id: str, job_id: str, after: int = 0) -> tuple[JobEventList, bool]:
        """Events after id ``after``, and whether the job has ended."""
        with self.db.session() as session:
            job = jobs.get_job(session, job_id=job_id, tenant_id=tenant_id, kind=KIND)
            rows = jobs.list_events(session, job_id=job_id, after=after)
            return JobEventList(data=[JobEventOut.from_row(r) for r in rows]), (
                job.status in TERMINAL
            )

    async def follow(
        self, tenant_id: str, job_id: str, *, after: int = 0, poll_seconds: float = 0.25
    ) -> AsyncIterator[JobEventOut]:
        """Every event of the job after id ``after``, as they come, until it ends."""
        while True:
            page, ended = await run_in_threadpool(self.events, tenant_id, job_id, after)
            for event in page.data:
                yield event
                after = event.id
            if ended and not page.data:
                return
            if not page.data:
                await asyncio.sleep(poll_seconds)

"""What the optimization routes mean: submit, look at, list and cancel optimizations.

Everything that can be checked before the work starts is checked at submit, as a 400
naming the field: the method, its options (strict, bounded), whether it applies to the
model's architecture, and the data it needs (calibration or fine-tuning rows, the
evaluation file).
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool

from aimaas.errors import InvalidInput
from aimaas.jobs.runner import JobRunner
from aimaas.optimize import methods, sources
from aimaas.protocol.optimizations import (
    OptimizationCreate,
    OptimizationList,
    OptimizationObject,
)
from aimaas.registry import jobs
from aimaas.registry.db import Database
from aimaas.registry.store import ArtifactStore

KIND = "optimization"


class OptimizationService:
    def __init__(self, db: Database, store: ArtifactStore, runner: JobRunner) -> None:
        self.db = db
        self.store = store
        self.runner = runner

    async def submit(self, tenant_id: str, request: OptimizationCreate) -> OptimizationObject:
        optimization = await run_in_threadpool(self._create, tenant_id, request)
        self.runner.wake()
        return optimization

    def _create(self, tenant_id: str, request: OptimizationCreate) -> OptimizationObject:
        options = methods.parse_options(request.method, request.options)
        source = sources.resolve(self.db, self.store, tenant_id=tenant_id, ref=request.model)
        methods.check_applicable(request.method, source.document)
        # Read the data now: a missing training job or a wrong file is a 400 today.
        data = sources.training_data(self.db, self.store, tenant_id=tenant_id, source=source)
        if data is None and (
            request.method == "quantize_static" or int(getattr(options, "fine_tune_epochs", 0))
        ):
            raise InvalidInput(
                f"{request.method} with these options needs the training data of the model's "
                "training job, which is gone.",
                param="method",
            )
        sources.evaluation_data(
            self.db, self.store, tenant_id=tenant_id, source=source,
            file_id=request.evaluation_file, data=data,
        )  # fmt: skip
        spec: dict[str, Any] = {
            "model": request.model,
            "source_model": source.name,
            "source_version": source.version,
            "source_version_id": source.version_id,
            "method": request.method,
            "options": options.model_dump(mode="json"),
            "evaluation_file": request.evaluation_file,
        }
        with self.db.session() as session:
            job = jobs.create_job(session, tenant_id=tenant_id, kind=KIND, spec=spec)
            jobs.add_event(session, job_id=job.id, data={"type": "status", "status": "queued"})
            return OptimizationObject.from_row(job)

    def get(self, tenant_id: str, optimization_id: str) -> OptimizationObject:
        with self.db.session() as session:
            return OptimizationObject.from_row(
                jobs.get_job(session, job_id=optimization_id, tenant_id=tenant_id, kind=KIND)
            )

    def list(self, tenant_id: str, limit: int) -> OptimizationList:
        with self.db.session() as session:
            rows = jobs.list_jobs(session, tenant_id=tenant_id, kind=KIND, limit=limit)
            return OptimizationList(data=[OptimizationObject.from_row(row) for row in rows])

    def cancel(self, tenant_id: str, optimization_id: str) -> OptimizationObject:
        with self.db.session() as session:
            job = jobs.get_job(session, job_id=optimization_id, tenant_id=tenant_id, kind=KIND)
            jobs.request_cancel(session, job)
            return OptimizationObject.from_row(job)

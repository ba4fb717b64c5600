"""What the evaluation routes mean beyond the job service: an evaluation's HTML report,
and every evaluation of a model's versions, to compare them."""

from __future__ import annotations

from sqlalchemy import select

from aimaas.errors import Conflict, NotFound
from aimaas.evaluate.job_kind import EVALUATION
from aimaas.jobs.service import JobService
from aimaas.protocol.evaluations import EvaluationObject
from aimaas.registry import repository
from aimaas.registry.db import Database
from aimaas.registry.store import ArtifactStore, Owner
from aimaas.registry.tables import ModelVersion


class EvaluationService:
    def __init__(self, db: Database, store: ArtifactStore, jobs: JobService) -> None:
        self.db = db
        self.store = store
        self.jobs = jobs

    def report(self, tenant_id: str, evaluation_id: str) -> bytes:
        job = self.jobs.record(EVALUATION, tenant_id, evaluation_id)
        if job.status != "succeeded":
            raise Conflict(
                f"Evaluation {evaluation_id!r} is {job.status}; its report exists once it "
                "has succeeded.",
                param="evaluation_id",
            )
        reports = None if job.result is None else job.result.reports
        if reports is None or not reports.html:
            raise NotFound(f"Evaluation {evaluation_id!r} has no report.", param="evaluation_id")
        return self.store.read(reports.html, Owner.report(tenant_id, evaluation_id))

    def of_model(self, tenant_id: str, name: str, limit: int = 1000) -> list[EvaluationObject]:
        """Every evaluation of every version of the model, newest first."""
        with self.db.session() as session:
            model = repository.get_model(session, tenant_id=tenant_id, name=name)
            ids = set(
                session.scalars(
                    select(ModelVersion.id).where(ModelVersion.model_id == model.id)
                ).all()
            )
        records = self.jobs.records(EVALUATION, tenant_id, limit=100_000)
        found = [EVALUATION.view(job) for job in records if job.spec.version_id in ids]
        return found[:limit]

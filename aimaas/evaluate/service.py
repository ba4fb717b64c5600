"""What the evaluation and alias routes mean: submit and read evaluations, compare a
model's versions, and move aliases through the promotion gate."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from aimaas.errors import Conflict, InvalidInput, NotFound
from aimaas.evaluate import inputs
from aimaas.evaluate.names import ALL_METRICS, LOWER_IS_BETTER, better
from aimaas.jobs.runner import JobRunner
from aimaas.protocol.evaluations import (
    AliasDeleted,
    AliasList,
    AliasObject,
    AliasSet,
    EvaluationCreate,
    EvaluationList,
    EvaluationObject,
    Requirement,
)
from aimaas.registry import aliases, jobs, repository
from aimaas.registry.db import Database
from aimaas.registry.store import ArtifactStore, Owner
from aimaas.registry.tables import Job, Model, ModelVersion
from aimaas.runtime.catalog import SpecCache

KIND = "evaluation"


class EvaluationService:
    def __init__(
        self, db: Database, store: ArtifactStore, runner: JobRunner, specs: SpecCache
    ) -> None:
        self.db = db
        self.store = store
        self.runner = runner
        self.specs = specs

    # --- evaluations -------------------------------------------------------------------

    async def submit(self, tenant_id: str, request: EvaluationCreate) -> EvaluationObject:
        evaluation = await run_in_threadpool(self._create, tenant_id, request)
        self.runner.wake()
        return evaluation

    def _create(self, tenant_id: str, request: EvaluationCreate) -> EvaluationObject:
        with self.db.session() as session:
            model, version = repository.resolve_version(
                session, tenant_id=tenant_id, ref=request.model
            )
            method = inputs.method_for(model, version)
            details = dict(version.details or {})
            owner = inputs.version_owner(model, version)
            spec: dict[str, Any] = {
                "model": model.name,
                "ref": request.model,
                "version": version.version,
                "version_id": version.id,
                "method": method,
                "file": request.file,
                "target": request.target or details.get("target"),
            }
        # Read the data now: a wrong file, target or shape is a 400 today, not a failed job.
        if method == "perplexity":
            spec["target"] = None
            inputs.corpus(self.db, self.store, tenant_id=tenant_id, file_id=request.file)
        else:
            inputs.labelled_data(
                self.db, self.store, tenant_id=tenant_id, file_id=request.file,
                target=spec["target"], predictor=inputs.load_predictor(self.store, details, owner),
            )  # fmt: skip
        with self.db.session() as session:
            job = jobs.create_job(session, tenant_id=tenant_id, kind=KIND, spec=spec)
            jobs.add_event(session, job_id=job.id, data={"type": "status", "status": "queued"})
            return EvaluationObject.from_row(job)

    def get(self, tenant_id: str, evaluation_id: str) -> EvaluationObject:
        with self.db.session() as session:
            return EvaluationObject.from_row(self._job(session, tenant_id, evaluation_id))

    def list(self, tenant_id: str, limit: int) -> EvaluationList:
        with self.db.session() as session:
            rows = jobs.list_jobs(session, tenant_id=tenant_id, kind=KIND, limit=limit)
            return EvaluationList(data=[EvaluationObject.from_row(row) for row in rows])

    def report(self, tenant_id: str, evaluation_id: str) -> bytes:
        with self.db.session() as session:
            job = self._job(session, tenant_id, evaluation_id)
            if job.status != "succeeded":
                raise Conflict(
                    f"Evaluation {evaluation_id!r} is {job.status}; its report exists once it "
                    "has succeeded.",
                    param="evaluation_id",
                )
            digest = (job.result or {}).get("reports", {}).get("html")
        if not digest:
            raise NotFound(f"Evaluation {evaluation_id!r} has no report.", param="evaluation_id")
        return self.store.read(digest, Owner.report(tenant_id, evaluation_id))

    def of_model(self, tenant_id: str, name: str, limit: int = 1000) -> EvaluationList:
        """Every evaluation of every version of the model, newest first."""
        with self.db.session() as session:
            model = repository.get_model(session, tenant_id=tenant_id, name=name)
            ids = set(
                session.scalars(
                    select(ModelVersion.id).where(ModelVersion.model_id == model.id)
                ).all()
            )
            rows = jobs.list_jobs(session, tenant_id=tenant_id, kind=KIND, limit=100_000)
            data = [
                EvaluationObject.from_row(row) for row in rows if row.spec.get("version_id") in ids
            ]
            return EvaluationList(data=data[:limit])

    @staticmethod
    def _job(session: Session, tenant_id: str, evaluation_id: str) -> Job:
        try:
            return jobs.get_job(session, job_id=evaluation_id, tenant_id=tenant_id, kind=KIND)
        except NotFound:
            raise NotFound(
                f"No evaluation {evaluation_id!r}; GET /v1/evaluations lists them.",
                param="evaluation_id",
            ) from None

    # --- aliases -----------------------------------------------------------------------

    def aliases(self, tenant_id: str, name: str) -> AliasList:
        with self.db.session() as session:
            model = repository.get_model(session, tenant_id=tenant_id, name=name)
            return AliasList(
                data=[
                    AliasObject.from_rows(model.name, alias, version, None)
                    for alias, version in aliases.list_aliases(session, model=model)
                ]
            )

    def set_alias(self, tenant_id: str, name: str, alias: str, body: AliasSet) -> AliasObject:
        with self.db.session() as session:
            model = aliases.own_model(session, tenant_id=tenant_id, name=name)
            repository.validate_name(alias, param="alias")
            candidate = aliases.get_version(session, model=model, version=body.version)
            check = None
            if body.require is not None:
                check = gate(session, model, alias, candidate, body.require)
            row = aliases.set_alias(session, model=model, alias=alias, version=candidate)
            answer = AliasObject.from_rows(model.name, row, candidate, check)
        self.specs.forget()  # name@alias (and a bare name for production) serve it at once
        return answer

    def delete_alias(self, tenant_id: str, name: str, alias: str) -> AliasDeleted:
        with self.db.session() as session:
            model = aliases.own_model(session, tenant_id=tenant_id, name=name)
            aliases.delete_alias(session, model=model, alias=alias)
        self.specs.forget()
        return AliasDeleted(model=model.name, alias=alias)


# --- the promotion gate ------------------------------------------------------------------


def newest_evaluation(version: ModelVersion, *, file: str | None) -> dict[str, Any] | None:
    """The newest succeeded evaluation recorded on ``version`` (on ``file`` if given)."""
    recorded = list((version.details or {}).get("evaluations", []))
    for entry in reversed(recorded):
        if file is None or entry.get("file") == file:
            return dict(entry)
    return None


def gate(
    session: Session, model: Model, alias: str, candidate: ModelVersion, require: Requirement
) -> dict[str, Any]:
    """Check ``require`` for moving ``alias`` to ``candidate``; Conflict (409) with both
    numbers when the candidate is worse. Returns what was compared."""
    metric = require.metric
    if metric not in ALL_METRICS:
        raise InvalidInput(
            f"Unknown metric {metric!r}; choose from {', '.join(ALL_METRICS)}.",
            param="require.metric",
        )
    if require.min is None and not require.at_least_current:
        raise InvalidInput(
            "'require' needs 'min', 'at_least_current': true, or both.", param="require"
        )
    where = f" on file {require.file!r}" if require.file else ""
    label = f"{model.name}:{candidate.version}"
    evaluation = newest_evaluation(candidate, file=require.file)
    if evaluation is None:
        raise Conflict(
            f"{label} has no succeeded evaluation{where}; run one first: POST /v1/evaluations "
            f'{{"model": "{label}", "file": "..."}}.',
            param="require",
        )
    value = _metric(evaluation, metric, label)
    lower = metric in LOWER_IS_BETTER
    check: dict[str, Any] = {
        "metric": metric,
        "lower_is_better": lower,
        "candidate": {"version": candidate.version, "value": value, "evaluation": evaluation["id"]},
    }
    if require.min is not None:
        if not better(metric, value, require.min):
            bound = "at most" if lower else "at least"
            raise Conflict(
                f"{label} has {metric} {value:.6g}{where} (evaluation {evaluation['id']}); "
                f"the gate requires {bound} {require.min:.6g}"
                + (f" (lower is better for {metric})." if lower else "."),
                param="require.min",
            )
        check["min"] = require.min
    if require.at_least_current:
        holder = aliases.current(session, model=model, alias=alias)
        if holder is not None and holder.id != candidate.id:
            reference_label = f"{model.name}:{holder.version}"
            reference = newest_evaluation(holder, file=evaluation["file"])
            if reference is None:
                raise Conflict(
                    f"{reference_label}, which {model.name}@{alias} names now, has no "
                    f"succeeded evaluation on file {evaluation['file']!r} to compare with; "
                    f"evaluate it on that file first.",
                    param="require.at_least_current",
                )
            held = _metric(reference, metric, reference_label)
            if not better(metric, value, held):
                direction = "lower" if lower else "higher"
                raise Conflict(
                    f"{label} has {metric} {value:.6g} but {reference_label} "
                    f"({model.name}@{alias} now) has {held:.6g} on file "
                    f"{evaluation['file']!r}; {direction} is better, so {alias} stays on "
                    f"version {holder.version}.",
                    param="require.at_least_current",
                )
            check["current"] = {
                "version": holder.version,
                "value": held,
                "evaluation": reference["id"],
            }
    return check


def _metric(evaluation: dict[str, Any], metric: str, label: str) -> float:
    metrics = evaluation.get("metrics") or {}
    if metric not in metrics:
        raise InvalidInput(
            f"The evaluation {evaluation.get('id')} of {label} has no {metric!r}; it has "
            f"{', '.join(sorted(metrics))}.",
            param="require.metric",
        )
    return float(metrics[metric])

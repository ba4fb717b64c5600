"""The optimization job's handler: optimize the source version, store the child's files,
compare the two on this machine, and register the child as a new version of the same
model (its parent the source) when the job is recorded as succeeded."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from aimaas.errors import InvalidInput
from aimaas.jobs.context import Finalize, JobContext
from aimaas.optimize import methods, sources
from aimaas.optimize.compare import Side, compare
from aimaas.optimize.formats import WEIGHTS
from aimaas.optimize.optimizer import optimize
from aimaas.registry import repository
from aimaas.registry.store import Owner

KEPT = ("algorithm", "hyperparameters", "seed", "target", "datasets")  # from the parent


def run_optimization(context: JobContext) -> Finalize:
    spec = context.spec
    db, store, tenant = context.db, context.store, context.tenant_id
    source = sources.by_id(db, store, tenant_id=tenant, version_id=spec["source_version_id"])
    method = spec["method"]
    options = methods.parse_options(method, spec["options"])
    data = sources.training_data(db, store, tenant_id=tenant, source=source)
    dataset = sources.evaluation_data(
        db, store, tenant_id=tenant, source=source, file_id=spec.get("evaluation_file"), data=data
    )
    context.event({"type": "optimize", "method": method, "source_version": source.version})
    parent_files = {name: store.read(digest, source.owner) for name, digest in source.files.items()}
    try:
        artifact = optimize(
            method,
            options,
            parent_files[source.weights_name],
            parent_files["model.json"],
            data,
            hyperparameters=dict(source.details.get("hyperparameters") or {}),
            seed=int(source.details.get("seed") or 0),
            on_event=context.event,
            check_stop=context.check_stop,
        )
    except ValueError as exc:  # a model this method cannot take, found only now
        raise InvalidInput(f"{method} cannot optimize this model: {exc}", param="method") from exc
    context.check_stop()
    version_id = repository.new_version_id()  # the child's files are sealed for it
    owner = Owner.model(tenant, source.name, version_id)
    files = {name: store.put(data, owner) for name, data in artifact.files.items()}
    context.event({"type": "compare", "rows": len(dataset)})
    comparison = compare(
        Side({"model": source.name, "version": source.version, "format": source.format},
             parent_files),
        Side({"model": source.name, "version": None, "format": artifact.format},
             artifact.files),
        dataset,
        threads=1,
    )  # fmt: skip
    context.check_stop()

    def register(session: Session) -> dict[str, Any]:
        model, version = repository.register_model(
            session,
            tenant_id=tenant,
            name=source.name,
            task=source.task,
            format=artifact.format,
            artifact_digest=files[WEIGHTS[artifact.format]],
            version_id=version_id,
            details={
                "files": files,
                **{key: source.details[key] for key in KEPT if key in source.details},
                "job": context.job_id,
                "training_job": source.training_job,
                "parent": {"version": source.version, "id": source.version_id},
                "optimization": {"method": method, "options": options.model_dump(mode="json")},
                "metrics": comparison["child"]["metrics"],
            },
        )
        version.parent_version_id = source.version_id
        comparison["child"]["version"] = version.version  # known only now
        version.details = {**version.details, "comparison": comparison}
        session.flush()
        return {"model": model.name, "version": version.version, "comparison": comparison}

    return register

"""The optimization job's handler: optimize the source version, store the child's files,
compare the two on this machine, and register the child as a new version of the same
model (its parent the source) when the job is recorded as succeeded."""

from __future__ import annotations

from sqlalchemy.orm import Session

from aimaas.errors import InvalidInput
from aimaas.jobs.context import Finalize, JobContext
from aimaas.optimize import starting_point
from aimaas.optimize.compare import Side, compare
from aimaas.optimize.job_spec import OptimizationJobResult, OptimizationJobSpec
from aimaas.optimize.optimizer import optimize
from aimaas.registry import repository
from aimaas.registry.formats import WEIGHTS
from aimaas.registry.store import Owner
from aimaas.registry.version_details import OptimizationMethod, ParentVersion, VersionDetails

KEPT = {"algorithm", "hyperparameters", "seed", "target", "datasets"}  # from the parent


def run_optimization(
    context: JobContext[OptimizationJobSpec],
) -> Finalize[OptimizationJobResult]:
    spec = context.spec
    db, store, tenant = context.db, context.store, context.tenant_id
    source = starting_point.by_id(db, store, tenant_id=tenant, version_id=spec.source_version_id)
    method, options = spec.method, spec.options
    data = starting_point.training_data(db, store, tenant_id=tenant, source=source)
    dataset = starting_point.evaluation_data(
        db, store, tenant_id=tenant, source=source, file_id=spec.evaluation_file, data=data
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
            hyperparameters=dict(source.details.hyperparameters or {}),
            seed=int(source.details.seed or 0),
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
    inherited = source.details.model_dump(include=KEPT & source.details.model_fields_set)
    details = VersionDetails(
        files=files,
        **inherited,
        job=context.job_id,
        training_job=source.details.training_job_id,
        parent=ParentVersion(version=source.version, id=source.version_id),
        optimization=OptimizationMethod(method=method, options=options.model_dump(mode="json")),
        metrics=comparison["child"]["metrics"],
    )

    def register(session: Session) -> OptimizationJobResult:
        model, version = repository.register_model(
            session,
            tenant_id=tenant,
            name=source.name,
            task=source.task,
            format=artifact.format,
            artifact_digest=files[WEIGHTS[artifact.format]],
            version_id=version_id,
            details=details.dump(),
        )
        version.parent_version_id = source.version_id
        comparison["child"]["version"] = version.version  # known only now
        version.details = details.model_copy(update={"comparison": comparison}).dump()
        session.flush()
        return OptimizationJobResult(
            model=model.name, version=version.version, comparison=comparison
        )

    return register

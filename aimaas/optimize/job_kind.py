"""The optimization job kind: an ``OptimizationCreate`` checked once at submit, run by
``optimize.job.run_optimization`` in the worker, shown as an ``OptimizationObject``.

Everything that can be checked before the work starts is checked at submit, as a 400
naming the field: the method, its options (strict, bounded), whether it applies to the
model's architecture, and the data it needs (calibration or fine-tuning rows, the
evaluation file).
"""

from __future__ import annotations

from aimaas.errors import InvalidInput
from aimaas.jobs.context import Finalize, JobContext
from aimaas.jobs.kinds import JobKind, Submission
from aimaas.jobs.record import JobRecord
from aimaas.optimize import methods, starting_point
from aimaas.optimize.job_spec import OptimizationJobResult, OptimizationJobSpec
from aimaas.protocol.optimizations import OptimizationCreate, OptimizationObject


def validate(submission: Submission, request: OptimizationCreate) -> OptimizationJobSpec:
    db, store, tenant_id = submission.db, submission.store, submission.tenant_id
    options = methods.parse_options(request.method, request.options)
    source = starting_point.resolve(db, store, tenant_id=tenant_id, ref=request.model)
    methods.check_applicable(request.method, source.document)
    # Read the data now: a missing training job or a wrong file is a 400 today.
    data = starting_point.training_data(db, store, tenant_id=tenant_id, source=source)
    if data is None and (
        request.method == "quantize_static" or int(getattr(options, "fine_tune_epochs", 0))
    ):
        raise InvalidInput(
            f"{request.method} with these options needs the training data of the model's "
            "training job, which is gone.",
            param="method",
        )
    starting_point.evaluation_data(
        db, store, tenant_id=tenant_id, source=source, file_id=request.evaluation_file,
        data=data,
    )  # fmt: skip
    return OptimizationJobSpec(
        **request.model_dump(include={"model", "method", "evaluation_file"}),
        source_model=source.name,
        source_version=source.version,
        source_version_id=source.version_id,
        options=options,
    )


def handle(context: JobContext[OptimizationJobSpec]) -> Finalize[OptimizationJobResult]:
    from aimaas.optimize.job import run_optimization  # scikit-learn (the comparison): workers

    return run_optimization(context)


def view(job: JobRecord[OptimizationJobSpec, OptimizationJobResult]) -> OptimizationObject:
    spec, result = job.spec, job.result
    return OptimizationObject(
        **job.producing_state(),
        **spec.model_dump(mode="json", exclude={"source_version_id"}),
        comparison=None if result is None else result.comparison,
    )


OPTIMIZATION: JobKind[
    OptimizationCreate, OptimizationJobSpec, OptimizationJobResult, OptimizationObject
] = JobKind(
    name="optimization",
    spec=OptimizationJobSpec,
    result=OptimizationJobResult,
    validate=validate,
    handler=handle,
    view=view,
)

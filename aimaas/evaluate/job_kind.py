"""The evaluation job kind: an ``EvaluationCreate`` resolved to one version and checked
once at submit (the model can be scored, the file fits it), run by
``evaluate.job.run_evaluation`` in the worker, shown as an ``EvaluationObject``."""

from __future__ import annotations

from aimaas.errors import NotFound
from aimaas.evaluate import inputs
from aimaas.evaluate.job_spec import EvaluationJobResult, EvaluationJobSpec
from aimaas.jobs.context import Finalize, JobContext
from aimaas.jobs.kinds import JobKind, Submission
from aimaas.jobs.record import JobRecord
from aimaas.protocol.evaluations import EvaluationCreate, EvaluationObject
from aimaas.registry import repository
from aimaas.registry.version_details import VersionDetails


def validate(submission: Submission, request: EvaluationCreate) -> EvaluationJobSpec:
    db, store, tenant_id = submission.db, submission.store, submission.tenant_id
    with db.session() as session:
        model, version = repository.resolve_version(session, tenant_id=tenant_id, ref=request.model)
        method = inputs.method_for(model, version)
        details = VersionDetails.of(version)
        owner = inputs.version_owner(model, version)
        spec = EvaluationJobSpec(
            model=model.name,
            ref=request.model,
            version=version.version,
            version_id=version.id,
            method=method,
            file=request.file,
            target=None if method == "perplexity" else (request.target or details.target),
        )
    # Read the data now: a wrong file, target or shape is a 400 today, not a failed job.
    if method == "perplexity":
        inputs.corpus(db, store, tenant_id=tenant_id, file_id=request.file)
    else:
        inputs.labelled_data(
            db, store, tenant_id=tenant_id, file_id=request.file, target=spec.target,
            predictor=inputs.load_predictor(store, details, owner),
        )  # fmt: skip
    return spec


def handle(context: JobContext[EvaluationJobSpec]) -> Finalize[EvaluationJobResult]:
    from aimaas.evaluate.job import run_evaluation  # scikit-learn and matplotlib: workers only

    return run_evaluation(context)


# What a finished evaluation shows of its result (the rest is its spec, or its report's files).
_SCORES = {"task", "rows", "metrics", "per_class", "confusion_matrix", "labels", "unseen_labels",
           "notes"}  # fmt: skip


def view(job: JobRecord[EvaluationJobSpec, EvaluationJobResult]) -> EvaluationObject:
    spec, result = job.spec, job.result
    return EvaluationObject(
        **job.state(),
        **spec.model_dump(exclude={"ref", "version_id"}),
        **({} if result is None else result.model_dump(include=_SCORES)),
        report_url=f"/v1/evaluations/{job.id}/report" if job.succeeded else None,
    )


def not_found(evaluation_id: str) -> NotFound:
    return NotFound(
        f"No evaluation {evaluation_id!r}; GET /v1/evaluations lists them.",
        param="evaluation_id",
    )


EVALUATION: JobKind[EvaluationCreate, EvaluationJobSpec, EvaluationJobResult, EvaluationObject] = (
    JobKind(
        name="evaluation",
        spec=EvaluationJobSpec,
        result=EvaluationJobResult,
        validate=validate,
        handler=handle,
        view=view,
        not_found=not_found,
    )
)

"""The training job kind: a ``TrainingJobCreate`` checked once at submit (hyperparameters,
validation split, seed, and the data read and checked against the algorithm), run by
``learn.job.run_training``, shown as a ``TrainingJob``."""

from __future__ import annotations

import secrets

from aimaas.jobs.context import Finalize, JobContext
from aimaas.jobs.kinds import JobKind, Submission
from aimaas.jobs.record import JobRecord
from aimaas.learn import hyperparameters
from aimaas.learn.inputs import load_training_data
from aimaas.learn.job_spec import TrainingJobResult, TrainingJobSpec
from aimaas.protocol.jobs import TrainingJob, TrainingJobCreate


def validate(submission: Submission, request: TrainingJobCreate) -> TrainingJobSpec:
    params = hyperparameters.parse(request.algorithm, request.hyperparameters)
    split = request.validation_split
    if split is None and request.validation_file:
        split = 0.0
    elif split is None:
        split = submission.settings.training.default_validation_split
    spec = TrainingJobSpec(
        model=request.model,
        algorithm=request.algorithm,
        training_file=request.training_file,
        validation_file=request.validation_file,
        validation_split=split,
        target=request.target,
        hyperparameters=params,
        seed=request.seed if request.seed is not None else secrets.randbelow(2**31),
    )
    # Read the data now: a wrong file, target or shape is a 400 today, not a failed job.
    load_training_data(
        submission.db, submission.store, tenant_id=submission.tenant_id, spec=spec, check=True
    )
    return spec


def handle(context: JobContext[TrainingJobSpec]) -> Finalize[TrainingJobResult]:
    from aimaas.learn.job import run_training  # scikit-learn (validation metrics): workers only

    return run_training(context)


def view(job: JobRecord[TrainingJobSpec, TrainingJobResult]) -> TrainingJob:
    spec, result = job.spec, job.result
    return TrainingJob(
        **job.producing_state(),
        **spec.model_dump(mode="json"),  # every field of the spec is shown
        metrics=None if result is None else result.metrics,
    )


TRAINING: JobKind[TrainingJobCreate, TrainingJobSpec, TrainingJobResult, TrainingJob] = JobKind(
    name="training",
    spec=TrainingJobSpec,
    result=TrainingJobResult,
    validate=validate,
    handler=handle,
    view=view,
)

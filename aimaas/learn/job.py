"""The training job's handler: read the data, train with checkpoints, store the weights,
and register the new model version when the job is recorded as succeeded."""

from __future__ import annotations

from sqlalchemy.orm import Session

from aimaas.jobs.context import Finalize, JobContext
from aimaas.learn import artifacts, trainer
from aimaas.learn.checkpoint import PLAIN
from aimaas.learn.inputs import load_training_data
from aimaas.learn.job_spec import TrainingJobResult, TrainingJobSpec
from aimaas.registry import repository
from aimaas.registry.formats import TORCH_FORMAT, WEIGHTS
from aimaas.registry.store import Owner
from aimaas.registry.version_details import VersionDetails

WEIGHTS_FILE = WEIGHTS[TORCH_FORMAT]


def run_training(context: JobContext[TrainingJobSpec]) -> Finalize[TrainingJobResult]:
    spec = context.spec
    inputs = load_training_data(context.db, context.store, tenant_id=context.tenant_id, spec=spec)
    checkpoints = context.workdir / "checkpoint"
    result = trainer.train(
        spec.algorithm,
        inputs.train,
        inputs.validation,
        spec.hyperparameters,
        seed=spec.seed,
        checkpoint_dir=checkpoints,
        checkpoint_codec=context.sealed_files(checkpoints) or PLAIN,
        on_event=context.event,
        should_stop=context.should_stop,
    )
    weights, description = artifacts.save(result)
    version_id = repository.new_version_id()  # the files are sealed for this version
    owner = Owner.model(context.tenant_id, spec.model, version_id)
    files = {
        WEIGHTS_FILE: context.store.put(weights, owner),
        "model.json": context.store.put(description, owner),
    }
    details = VersionDetails(
        files=files,
        algorithm=spec.algorithm,
        hyperparameters=spec.hyperparameters.model_dump(mode="json"),
        seed=spec.seed,
        target=spec.target,
        datasets=inputs.file_ids,
        metrics=dict(result.metrics),
        job=context.job_id,
    )

    def register(session: Session) -> TrainingJobResult:
        model, version = repository.register_model(
            session,
            tenant_id=context.tenant_id,
            name=spec.model,
            task=str(result.spec.get("task", "classification")),
            format=TORCH_FORMAT,
            artifact_digest=files[WEIGHTS_FILE],
            version_id=version_id,
            details=details.dump(),
        )
        return TrainingJobResult(model=model.name, version=version.version, metrics=result.metrics)

    return register

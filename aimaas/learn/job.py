"""The training job's handler: read the data, train with checkpoints, store the weights,
and register the new model version when the job is recorded as succeeded."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from aimaas.jobs.context import Finalize, JobContext
from aimaas.learn import artifacts, trainer
from aimaas.learn.inputs import load_training_data
from aimaas.registry import repository
from aimaas.registry.store import Owner

MODEL_FORMAT = "aimaas-torch"


def run_training(context: JobContext) -> Finalize:
    spec = context.spec
    inputs = load_training_data(context.db, context.store, tenant_id=context.tenant_id, spec=spec)
    result = trainer.train(
        spec["algorithm"],
        inputs.train,
        inputs.validation,
        spec["hyperparameters"],
        seed=spec["seed"],
        checkpoint_dir=context.workdir / "checkpoint",
        checkpoint_codec=context.checkpoint_codec(context.workdir / "checkpoint"),
        on_event=context.event,
        should_stop=context.should_stop,
    )
    weights, description = artifacts.save(result)
    version_id = repository.new_version_id()  # the files are sealed for this version
    owner = Owner.model(context.tenant_id, spec["model"], version_id)
    files = {
        "model.safetensors": context.store.put(weights, owner),
        "model.json": context.store.put(description, owner),
    }

    def register(session: Session) -> dict[str, Any]:
        model, version = repository.register_model(
            session,
            tenant_id=context.tenant_id,
            name=spec["model"],
            task=str(result.spec.get("task", "classification")),
            format=MODEL_FORMAT,
            artifact_digest=files["model.safetensors"],
            version_id=version_id,
            details={
                "files": files,
                "algorithm": spec["algorithm"],
                "hyperparameters": spec["hyperparameters"],
                "seed": spec["seed"],
                "target": spec.get("target"),
                "datasets": inputs.file_ids,
                "metrics": result.metrics,
                "job": context.job_id,
            },
        )
        return {"model": model.name, "version": version.version, "metrics": result.metrics}

    return register

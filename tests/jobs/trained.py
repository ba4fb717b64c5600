"""Trained models in a real registry, made in this process the way a worker makes them:
CSV uploads stored and recorded as the files route does, then a training job submitted
through the job service and run to its end by ``run_job`` with the server's job kinds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.datasets import load_diabetes, load_iris  # type: ignore[import-untyped]

from aimaas.config import Settings
from aimaas.jobs.service import JobService
from aimaas.jobs.worker import run_job
from aimaas.learn.job_kind import TRAINING
from aimaas.protocol.jobs import TrainingJobCreate
from aimaas.registry import jobs
from aimaas.registry.db import Database
from aimaas.registry.store import ArtifactStore
from aimaas.runtime.files import inspect_file, store_upload
from aimaas.server.job_kinds import JOB_KINDS
from tests.learn import one_thread

IRIS_COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
MLP = {"epochs": 10, "hidden_sizes": [8], "batch_size": 16}


def iris_csv(rows: slice = slice(None), *, labels: bool = True) -> bytes:
    data = load_iris()
    names = np.asarray(data.target_names)[data.target]
    header = ",".join(IRIS_COLUMNS + (["label"] if labels else []))
    lines = [header]
    for x, y in zip(data.data[rows], names[rows], strict=True):
        lines.append(",".join([*(f"{v:g}" for v in x), *([str(y)] if labels else [])]))
    return ("\n".join(lines) + "\n").encode()


def diabetes_csv() -> bytes:
    data = load_diabetes()
    lines = [",".join([*(f"x{i}" for i in range(data.data.shape[1])), "y"])]
    lines += [",".join(f"{v:.6g}" for v in [*x, y]) for x, y in zip(data.data, data.target,
                                                                      strict=True)]  # fmt: skip
    return ("\n".join(lines) + "\n").encode()


def upload(
    db: Database, store: ArtifactStore, tenant: str, folder: Path, filename: str, content: bytes,
    purpose: str = "training",
) -> str:  # fmt: skip
    """The file id of ``content`` uploaded as ``filename``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename
    path.write_bytes(content)
    details = inspect_file(path, filename, purpose)
    row = store_upload(db, store, tenant_id=tenant, source=path, filename=filename,
                       purpose=purpose, details=details)  # fmt: skip
    return row.id


def run(settings: Settings, db: Database, store: ArtifactStore, job_id: str) -> str:
    """Claim the oldest queued job (it must be ``job_id``) and run it as a worker does."""
    with db.session() as session:
        job = jobs.claim_next(session, kinds=JOB_KINDS.names)
        assert job is not None and job.id == job_id
    return run_job(settings, db, store, job_id, JOB_KINDS)


def train(
    settings: Settings, db: Database, store: ArtifactStore, service: JobService, tenant: str,
    *, model: str, file_id: str, algorithm: str = "mlp", target: str = "label",
    hyperparameters: dict[str, Any] | None = None, validation_split: float = 0.2,
) -> str:  # fmt: skip
    """Train and register a version of ``model``; the training job's id."""
    request = TrainingJobCreate(
        model=model, algorithm=algorithm, training_file=file_id, target=target,
        hyperparameters=MLP if hyperparameters is None else hyperparameters,
        validation_split=validation_split, seed=0,
    )  # fmt: skip
    job = service.create(TRAINING, tenant, request)
    with one_thread():
        status = run(settings, db, store, job.id)
    assert status == "succeeded", service.record(TRAINING, tenant, job.id).error
    return job.id

"""job.py: the training job's handler on a real registry and store: it trains on the
job's file, stores both model files for the new version, records progress events, and
registers the version only when its finalize step runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from aimaas.config import Settings
from aimaas.jobs.context import JobContext
from aimaas.learn import artifacts
from aimaas.learn import hyperparameters as hp
from aimaas.learn.job import WEIGHTS_FILE, run_training
from aimaas.learn.job_spec import TrainingJobResult, TrainingJobSpec
from aimaas.registry import jobs, repository
from aimaas.registry.db import Database
from aimaas.registry.store import ArtifactStore, Owner, PlainStore
from aimaas.registry.tables import ModelVersion
from aimaas.runtime import files
from tests.learn import one_thread


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    store = PlainStore(tmp_path / "artifacts")
    store.prepare()
    return store


def context(
    settings: Settings, db: Database, store: ArtifactStore, tmp_path: Path
) -> JobContext[TrainingJobSpec]:
    with db.session() as session:
        tenant_id = repository.create_tenant(session, name="acme").id
    path = tmp_path / "rows.csv"
    path.write_text("x,z,label\n" + "".join(f"{i},{-i},{'ab'[i > 9]}\n" for i in range(20)))
    stored = files.store_upload(
        db, store, tenant_id=tenant_id, source=path, filename=path.name, purpose="training",
        details=files.inspect_file(path, path.name, "training"),
    )  # fmt: skip
    spec = TrainingJobSpec(
        model="rows", algorithm="mlp", training_file=stored.id, validation_file=None,
        validation_split=0.25, target="label",
        hyperparameters=hp.parse("mlp", {"epochs": 3, "hidden_sizes": [4]}), seed=1,
    )  # fmt: skip
    with db.session() as session:
        job = jobs.create_job(
            session, tenant_id=tenant_id, kind="training", spec=spec.model_dump(mode="json")
        )
        job_id = job.id
    return JobContext(
        settings=settings, db=db, store=store, job_id=job_id, kind="training",
        tenant_id=tenant_id, spec=spec, attempts=1,
    )  # fmt: skip


def test_a_job_trains_stores_and_registers_on_finalize(
    settings: Settings, db: Database, store: ArtifactStore, tmp_path: Path
) -> None:
    job = context(settings, db, store, tmp_path)
    finalize = run_training(job)
    with db.session() as session:
        assert session.scalars(select(ModelVersion)).all() == []  # not before finalize
        epochs = [e.data for e in jobs.list_events(session, job_id=job.job_id)]
    assert [e["epoch"] for e in epochs if e["type"] == "epoch"] == [1, 2, 3]
    with db.session() as session:
        result = finalize(session)
    assert isinstance(result, TrainingJobResult)
    assert (result.model, result.version) == ("rows", 1)
    assert set(result.metrics) >= {"train_loss", "val_loss", "val_accuracy"}
    with db.session() as session:
        [version] = session.scalars(select(ModelVersion)).all()
        details, digest, version_id = dict(version.details), version.artifact_digest, version.id
        model = repository.get_model(session, tenant_id=job.tenant_id, name="rows")
        assert model.task == "classification"
    assert details["algorithm"] == "mlp" and details["seed"] == 1
    assert details["target"] == "label" and details["job"] == job.job_id
    assert details["datasets"] == [job.spec.training_file]
    assert details["hyperparameters"] == job.spec.hyperparameters.model_dump(mode="json")
    assert digest == details["files"][WEIGHTS_FILE]
    owner = Owner.model(job.tenant_id, "rows", version_id)
    weights = store.read(details["files"][WEIGHTS_FILE], owner)
    description = store.read(details["files"]["model.json"], owner)
    predictor = artifacts.load_predictor(weights, description)
    assert predictor.labels == ["a", "b"]
    assert (job.workdir / "checkpoint").is_dir()  # the worker clears it when the job ends

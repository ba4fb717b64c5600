"""The optimization job run in process as a worker runs it, on a model trained in process:
the child registered as the next version of the same model with its parent, method,
inherited training details and the comparison (its own version filled in); a chain keeps
the ancestor's training job; a cancelled job registers nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aimaas.config import Settings
from aimaas.jobs.service import JobService
from aimaas.jobs.worker import run_job
from aimaas.learn import artifacts
from aimaas.optimize.job_kind import OPTIMIZATION
from aimaas.protocol.optimizations import OptimizationCreate
from aimaas.registry import jobs, repository
from aimaas.registry.db import Database
from aimaas.registry.formats import ONNX_FORMAT, TORCH_FORMAT
from aimaas.registry.store import ArtifactStore, Owner
from aimaas.registry.version_details import VersionDetails
from aimaas.server.job_kinds import JOB_KINDS
from tests.jobs.trained import IRIS_COLUMNS, iris_csv, run, train, upload
from tests.learn import one_thread

pytestmark = pytest.mark.usefixtures("sigterm_restored")


@pytest.fixture
def trained(
    settings: Settings, db: Database, store: ArtifactStore, service: JobService, tenant: str,
    tmp_path: Path,
) -> str:  # fmt: skip
    """The training job of "iris" version 1."""
    file_id = upload(db, store, tenant, tmp_path / "up", "iris.csv", iris_csv())
    return train(settings, db, store, service, tenant, model="iris", file_id=file_id)


def optimize(
    settings: Settings, db: Database, store: ArtifactStore, service: JobService, tenant: str,
    **body: object,
) -> str:  # fmt: skip
    job = service.create(OPTIMIZATION, tenant, OptimizationCreate.model_validate(body))
    with one_thread():
        assert run(settings, db, store, job.id) == "succeeded", service.record(
            OPTIMIZATION, tenant, job.id
        ).error
    return job.id


def version(
    db: Database, tenant: str, ref: str
) -> tuple[str, int, str, VersionDetails, str | None]:
    """(id, number, format, details, parent id) of the version ``ref`` means."""
    with db.session() as session:
        _, row = repository.resolve_version(session, tenant_id=tenant, ref=ref)
        return row.id, row.version, row.format, VersionDetails.of(row), row.parent_version_id


def test_the_pruned_child_is_the_next_version_with_its_parent_and_comparison(
    settings: Settings, db: Database, store: ArtifactStore, service: JobService, tenant: str,
    trained: str,
) -> None:  # fmt: skip
    job_id = optimize(settings, db, store, service, tenant, model="iris", method="prune",
                      options={"sparsity": 0.4})  # fmt: skip
    parent_id, _, _, parent, _ = version(db, tenant, "iris:1")
    child_id, number, format_, details, parent_of_child = version(db, tenant, "iris:2")
    assert number == 2 and format_ == TORCH_FORMAT and parent_of_child == parent_id
    assert details.parent is not None and details.parent.id == parent_id
    assert details.optimization is not None and details.optimization.method == "prune"
    assert details.optimization.options == {"sparsity": 0.4, "fine_tune_epochs": 0}
    assert details.job == job_id and details.training_job == trained
    for kept in ("algorithm", "hyperparameters", "seed", "target", "datasets"):
        assert getattr(details, kept) == getattr(parent, kept), kept
    comparison = details.comparison
    assert comparison is not None
    assert comparison["parent"]["version"] == 1 and comparison["child"]["version"] == 2
    assert comparison["measurement"]["evaluation_rows"] == 30  # the validation rows
    assert details.metrics == comparison["child"]["metrics"]
    assert set(details.stored_files) == {"model.safetensors", "model.json"}
    shown = service.get(OPTIMIZATION, tenant, job_id)
    assert shown.status == "succeeded" and shown.result_version == 2
    assert shown.comparison == comparison
    with db.session() as session:
        events = [e.data for e in jobs.list_events(session, job_id=job_id)]
    assert {"type": "optimize", "method": "prune", "source_version": 1} in events
    assert {"type": "compare", "rows": 30} in events
    # The child's files are sealed for it, and serve predictions.
    owner = Owner.model(tenant, "iris", child_id, 2)
    files = details.stored_files
    predictor = artifacts.load_predictor(
        store.read(files["model.safetensors"], owner), store.read(files["model.json"], owner)
    )
    rows = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]])
    outputs = predictor.run(predictor.prepare_v2({"input": rows}))
    assert len(outputs) == 2 and predictor.signature.inputs[0].shape == [-1, len(IRIS_COLUMNS)]


def test_a_chain_keeps_the_ancestors_training_job_and_compares_on_the_given_file(
    settings: Settings, db: Database, store: ArtifactStore, service: JobService, tenant: str,
    trained: str, tmp_path: Path,
) -> None:  # fmt: skip
    optimize(settings, db, store, service, tenant, model="iris", method="prune")
    file_id = upload(db, store, tenant, tmp_path / "ev", "e.csv", iris_csv(slice(0, 150, 3)),
                     purpose="evaluation")  # fmt: skip
    optimize(settings, db, store, service, tenant, model="iris:2", method="export_onnx",
             evaluation_file=file_id)  # fmt: skip
    pruned_id, *_ = version(db, tenant, "iris:2")
    _, number, format_, details, parent = version(db, tenant, "iris:3")
    assert number == 3 and format_ == ONNX_FORMAT and parent == pruned_id
    assert set(details.stored_files) == {"model.onnx", "model.json"}
    assert details.training_job == trained
    assert details.comparison is not None
    assert details.comparison["measurement"]["evaluation_rows"] == 50
    assert details.comparison["parent"]["version"] == 2


def test_a_cancelled_job_registers_nothing(
    settings: Settings, db: Database, store: ArtifactStore, service: JobService, tenant: str,
    trained: str,
) -> None:  # fmt: skip
    job = service.create(OPTIMIZATION, tenant,
                         OptimizationCreate(model="iris", method="quantize_dynamic"))  # fmt: skip
    with db.session() as session:
        row = jobs.claim_next(session, kinds=[OPTIMIZATION.name])
        assert row is not None and row.id == job.id
        jobs.request_cancel(session, row)
    assert run_job(settings, db, store, job.id, JOB_KINDS) == "cancelled"
    with db.session() as session:
        model = repository.get_model(session, tenant_id=tenant, name="iris")
        _, latest = repository.resolve_version(session, tenant_id=tenant, ref="iris")
        assert latest.version == 1 and model.name == "iris"

"""The optimization kind's check at submit, on a model trained in process: the spec it
resolves (the version the reference meant, the method's options with defaults), every
refusal as a 400/404 naming the field before any work, and the object it shows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aimaas.config import Settings
from aimaas.errors import AimaasError, InvalidInput, NotFound
from aimaas.jobs.kinds import Submission
from aimaas.jobs.record import JobRecord
from aimaas.jobs.service import JobService
from aimaas.optimize import methods
from aimaas.optimize.job_kind import OPTIMIZATION
from aimaas.optimize.job_spec import OptimizationJobResult, OptimizationJobSpec
from aimaas.protocol.optimizations import OptimizationCreate
from aimaas.registry import repository
from aimaas.registry.db import Database
from aimaas.registry.formats import TORCH_FORMAT
from aimaas.registry.store import ArtifactStore, Owner
from tests.jobs.trained import iris_csv, train, upload

pytestmark = pytest.mark.usefixtures("sigterm_restored")


@pytest.fixture
def where(
    settings: Settings, db: Database, store: ArtifactStore, service: JobService, tenant: str,
    tmp_path: Path,
) -> Submission:  # fmt: skip
    file_id = upload(db, store, tenant, tmp_path / "up", "iris.csv", iris_csv())
    train(settings, db, store, service, tenant, model="iris", file_id=file_id)
    return Submission(settings, db, store, tenant)


def request(**change: Any) -> OptimizationCreate:
    return OptimizationCreate.model_validate({"model": "iris", "method": "prune", **change})


def test_the_spec_names_the_version_and_the_options_with_their_defaults(
    where: Submission, tmp_path: Path
) -> None:
    spec = OPTIMIZATION.validate(where, request(options={"sparsity": 0.3}))
    with where.db.session() as session:
        _, version = repository.resolve_version(session, tenant_id=where.tenant_id, ref="iris")
    assert spec.model == "iris" and spec.source_model == "iris" and spec.source_version == 1
    assert spec.source_version_id == version.id and spec.evaluation_file is None
    assert spec.options == methods.PruneOptions(sparsity=0.3, fine_tune_epochs=0)
    file_id = upload(where.db, where.store, where.tenant_id, tmp_path / "ev", "e.csv",
                     iris_csv(slice(0, 150, 5)), purpose="evaluation")  # fmt: skip
    pinned = OPTIMIZATION.validate(
        where, request(model="iris:1", method="export_onnx", evaluation_file=file_id)
    )
    assert pinned.model == "iris:1" and pinned.evaluation_file == file_id
    assert pinned.options == methods.ExportOnnxOptions(graph_optimization="all")


@pytest.mark.parametrize(
    ("change", "error", "param"),
    [
        ({"method": "distill"}, InvalidInput, "method"),
        ({"options": {"sparsity": 2}}, InvalidInput, "options.sparsity"),
        ({"method": "quantize_static"}, InvalidInput, "method"),  # CNNs only
        ({"method": "prune_structured"}, InvalidInput, "method"),
        ({"model": "nope"}, NotFound, "model"),
        ({"model": "iris:7"}, NotFound, "model"),
        ({"evaluation_file": "file-nope"}, NotFound, "evaluation_file"),
    ],
)
def test_a_bad_request_is_refused_naming_the_field(
    where: Submission, change: dict[str, Any], error: type[AimaasError], param: str
) -> None:
    with pytest.raises(error) as refused:
        OPTIMIZATION.validate(where, request(**change))
    assert refused.value.param == param


def test_a_version_without_its_training_job_cannot_be_fine_tuned(where: Submission) -> None:
    """Copied without its training job, the model can still be pruned when an evaluation
    file is given, but not fine-tuned: that needs the training rows."""
    db, store, tenant = where.db, where.store, where.tenant_id
    with db.session() as session:
        model, version = repository.resolve_version(session, tenant_id=tenant, ref="iris")
        files = dict(version.details["files"])
        owner = Owner.model(tenant, model.name, version.id, version.version)
        document = store.read(files["model.json"], owner)
        weights = store.read(files["model.safetensors"], owner)
    copy_id = repository.new_version_id()
    copy_owner = Owner.model(tenant, "copy", copy_id)
    copied = {"model.json": store.put(document, copy_owner),
              "model.safetensors": store.put(weights, copy_owner)}  # fmt: skip
    with db.session() as session:
        repository.register_model(
            session, tenant_id=tenant, name="copy", task="classification", format=TORCH_FORMAT,
            artifact_digest=copied["model.safetensors"], version_id=copy_id,
            details={"files": copied, "algorithm": "mlp", "target": "label"},
        )  # fmt: skip
    with pytest.raises(InvalidInput, match="give an evaluation_file") as refused:
        OPTIMIZATION.validate(where, request(model="copy"))
    assert refused.value.param == "evaluation_file"
    with pytest.raises(InvalidInput, match="needs the training data") as refused:
        OPTIMIZATION.validate(where, request(model="copy", options={"fine_tune_epochs": 1}))
    assert refused.value.param == "method"


def test_the_object_shows_the_request_and_the_comparison_once_done() -> None:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    spec = OptimizationJobSpec(
        model="iris@prod", source_model="iris", source_version=1, source_version_id="mv-1",
        method="prune", options=methods.PruneOptions(), evaluation_file=None,
    )  # fmt: skip
    queued: JobRecord[OptimizationJobSpec, OptimizationJobResult] = JobRecord(
        id="job-1", kind="optimization", tenant_id="t", status="queued", created_at=moment,
        started_at=None, finished_at=None, error=None, attempts=0, spec=spec, result=None,
    )  # fmt: skip
    shown = OPTIMIZATION.view(queued)
    assert shown.object == "optimization" and shown.status == "queued"
    assert shown.comparison is None and shown.result_version is None
    assert shown.model == "iris@prod" and shown.source_version == 1
    assert shown.options == {"sparsity": 0.5, "fine_tune_epochs": 0}
    assert "source_version_id" not in shown.model_dump()
    done = OptimizationJobResult(model="iris", version=2, comparison={"ratios": {"size": 0.5}})
    finished = JobRecord(
        id="job-1", kind="optimization", tenant_id="t", status="succeeded", created_at=moment,
        started_at=moment, finished_at=moment, error=None, attempts=1, spec=spec, result=done,
    )  # fmt: skip
    shown = OPTIMIZATION.view(finished)
    assert shown.result_model == "iris" and shown.result_version == 2
    assert shown.comparison == {"ratios": {"size": 0.5}}
    assert shown.finished_at == int(moment.timestamp())

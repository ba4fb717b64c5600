"""What the evaluation routes add to the job service: an evaluation's HTML report (once it
has succeeded, and only its own), and every evaluation of a model's versions, newest
first, another model's left out."""

from __future__ import annotations

from pathlib import Path

import pytest

from aimaas.config import Settings
from aimaas.errors import Conflict, NotFound
from aimaas.evaluate.job_kind import EVALUATION
from aimaas.evaluate.job_spec import EvaluationJobResult
from aimaas.evaluate.service import EvaluationService
from aimaas.jobs.service import JobService
from aimaas.protocol.evaluations import EvaluationCreate
from aimaas.registry import jobs
from aimaas.registry.db import Database
from aimaas.registry.store import ArtifactStore
from tests.evaluate.conftest import Trained
from tests.jobs.trained import iris_csv, run, train, upload
from tests.learn import one_thread


@pytest.fixture
def evaluations(db: Database, store: ArtifactStore, service: JobService) -> EvaluationService:
    return EvaluationService(db, store, service)


def submit(service: JobService, tenant: str, model: str, file_id: str) -> str:
    return service.create(EVALUATION, tenant, EvaluationCreate(model=model, file=file_id)).id


def test_the_report_exists_once_the_evaluation_has_succeeded(
    settings: Settings, db: Database, store: ArtifactStore, service: JobService, tenant: str,
    iris: Trained, evaluations: EvaluationService,
) -> None:  # fmt: skip
    job_id = submit(service, tenant, "iris", iris.evaluation_file)
    with pytest.raises(Conflict, match="is queued; its report exists once") as early:
        evaluations.report(tenant, job_id)
    assert early.value.param == "evaluation_id"
    with one_thread():
        assert run(settings, db, store, job_id) == "succeeded"
    page = evaluations.report(tenant, job_id)
    assert page.startswith(b"<!DOCTYPE html>") and b"Evaluation of iris:1" in page
    with pytest.raises(NotFound) as missing:
        evaluations.report(tenant, "job-nope")
    assert missing.value.param == "evaluation_id"


def test_a_succeeded_evaluation_without_a_report_has_none(
    db: Database, service: JobService, tenant: str, iris: Trained,
    evaluations: EvaluationService,
) -> None:  # fmt: skip
    job_id = submit(service, tenant, "iris", iris.evaluation_file)
    result = EvaluationJobResult(task="classification", rows=0, metrics={}, model="iris",
                                 version=1, file=iris.evaluation_file, target="label")  # fmt: skip
    with db.session() as session:
        job = jobs.claim_next(session, kinds=[EVALUATION.name])
        assert job is not None and job.id == job_id
        jobs.finish(session, job, status="succeeded", result=result.model_dump(mode="json"))
    with pytest.raises(NotFound, match="has no report") as missing:
        evaluations.report(tenant, job_id)
    assert missing.value.param == "evaluation_id"


def test_a_models_evaluations_are_its_versions_newest_first(
    settings: Settings, db: Database, store: ArtifactStore, service: JobService, tenant: str,
    iris: Trained, evaluations: EvaluationService, tmp_path: Path,
) -> None:  # fmt: skip
    train(settings, db, store, service, tenant, model="iris", file_id=iris.training_file)
    other_file = upload(db, store, tenant, tmp_path / "o", "o.csv", iris_csv())
    train(settings, db, store, service, tenant, model="other", file_id=other_file)
    first = submit(service, tenant, "iris:1", iris.evaluation_file)
    second = submit(service, tenant, "iris:2", iris.evaluation_file)
    submit(service, tenant, "other", iris.evaluation_file)
    found = evaluations.of_model(tenant, "iris")
    assert [(e.id, e.version) for e in found] == [(second, 2), (first, 1)]
    assert all(e.model == "iris" and e.status == "queued" for e in found)
    assert [e.id for e in evaluations.of_model(tenant, "iris", limit=1)] == [second]
    with pytest.raises(NotFound) as missing:
        evaluations.of_model(tenant, "nope")
    assert missing.value.param == "model"

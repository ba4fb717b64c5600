"""The evaluation job run in process as a worker runs it: the metrics equal those of the
served predictor on the file, the report and its plots are stored for the job, the
evaluation is recorded on the version, perplexity for a language model, and a version gone
before the job ran fails it with a message naming the model."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from aimaas.config import Settings
from aimaas.evaluate import inputs
from aimaas.evaluate.job import draw, summary
from aimaas.evaluate.job_kind import EVALUATION
from aimaas.evaluate.job_spec import EvaluationJobSpec
from aimaas.evaluate.metrics import Evaluation, evaluate_predictor
from aimaas.jobs.service import JobService
from aimaas.protocol.evaluations import EvaluationCreate
from aimaas.registry import jobs, repository
from aimaas.registry.db import Database
from aimaas.registry.store import ArtifactStore, Owner
from aimaas.registry.tables import ModelVersion
from aimaas.registry.version_details import VersionDetails
from tests.evaluate.conftest import Trained
from tests.jobs.trained import run, upload
from tests.learn import one_thread

PNG = b"\x89PNG\r\n\x1a\n"


def evaluate(
    settings: Settings, db: Database, store: ArtifactStore, service: JobService, tenant: str,
    model: str, file_id: str,
) -> str:  # fmt: skip
    job = service.create(EVALUATION, tenant, EvaluationCreate(model=model, file=file_id))
    with one_thread():
        status = run(settings, db, store, job.id)
    assert status == "succeeded", service.record(EVALUATION, tenant, job.id).error
    return job.id


def served(db: Database, store: ArtifactStore, tenant: str, file_id: str) -> Evaluation:
    """The evaluation computed here, from the version's predictor and the file."""
    with db.session() as session:
        model, version = repository.resolve_version(session, tenant_id=tenant, ref="iris")
        details, owner = VersionDetails.of(version), inputs.version_owner(model, version)
    predictor = inputs.load_predictor(store, details, owner)
    dataset = inputs.labelled_data(db, store, tenant_id=tenant, file_id=file_id, target="label",
                                   predictor=predictor)  # fmt: skip
    return evaluate_predictor(predictor, dataset)


def test_a_classifier_is_scored_reported_and_recorded_on_its_version(
    settings: Settings, db: Database, store: ArtifactStore, service: JobService, tenant: str,
    iris: Trained,
) -> None:  # fmt: skip
    job_id = evaluate(settings, db, store, service, tenant, "iris", iris.evaluation_file)
    result = service.record(EVALUATION, tenant, job_id).result
    assert result is not None
    expected = served(db, store, tenant, iris.evaluation_file)
    assert result.rows == 50 and result.task == "classification"
    assert result.metrics == pytest.approx(expected.metrics, abs=1e-12)
    assert result.confusion_matrix == expected.confusion_matrix
    assert result.labels == expected.labels and result.target == "label"
    assert (result.model, result.version, result.file) == ("iris", 1, iris.evaluation_file)
    # The report and its plots, stored for this evaluation.
    assert result.reports is not None
    owner = Owner.report(tenant, job_id)
    page = store.read(result.reports.html, owner).decode()
    assert page.startswith("<!DOCTYPE html>") and "Evaluation of iris:1" in page
    assert set(result.reports.plots) == {"Confusion matrix", "ROC curves", "Training curves"}
    for digest in result.reports.plots.values():
        assert store.read(digest, owner).startswith(PNG)
    # Recorded on the version, for the promotion gate.
    with db.session() as session:
        _, version = repository.resolve_version(session, tenant_id=tenant, ref="iris")
        recorded = VersionDetails.of(version).evaluations
        events = [e.data for e in jobs.list_events(session, job_id=job_id)]
    assert [(r.id, r.file, r.target) for r in recorded] == [(job_id, iris.evaluation_file, "label")]
    assert recorded[0].metrics == result.metrics
    assert {"type": "evaluated", "metrics": result.metrics} in events
    shown = service.get(EVALUATION, tenant, job_id)
    assert shown.report_url == f"/v1/evaluations/{job_id}/report"


def test_a_language_model_is_scored_by_perplexity(
    settings: Settings, db: Database, store: ArtifactStore, service: JobService, tenant: str,
    language_model: str, tmp_path: Path, sigterm_restored: None,
) -> None:  # fmt: skip
    texts = b'{"text": "the cat sat on a mat"}\n{"text": "a dog ran far and ate fish"}\n'
    file_id = upload(db, store, tenant, tmp_path / "t", "t.jsonl", texts, purpose="evaluation")
    job_id = evaluate(settings, db, store, service, tenant, language_model, file_id)
    result = service.record(EVALUATION, tenant, job_id).result
    assert result is not None and result.target is None
    metrics = result.metrics
    assert set(metrics) == {"perplexity", "nll_mean", "tokens"} and metrics["tokens"] > 0
    assert metrics["perplexity"] == pytest.approx(math.exp(metrics["nll_mean"]), rel=1e-9)
    assert result.reports is not None and result.reports.plots == {}  # nothing to draw
    with db.session() as session:
        _, version = repository.resolve_version(session, tenant_id=tenant, ref=language_model)
        assert [r.id for r in VersionDetails.of(version).evaluations] == [job_id]


def test_a_version_gone_before_the_job_ran_fails_it(
    settings: Settings, db: Database, store: ArtifactStore, service: JobService, tenant: str,
    iris: Trained,
) -> None:  # fmt: skip
    job = service.create(EVALUATION, tenant,
                         EvaluationCreate(model="iris", file=iris.evaluation_file))  # fmt: skip
    with db.session() as session:
        row = session.get(ModelVersion, service.record(EVALUATION, tenant, job.id).spec.version_id)
        assert row is not None
        session.delete(row)
    assert run(settings, db, store, job.id) == "failed"
    assert service.record(EVALUATION, tenant, job.id).error == "Model iris:1 no longer exists."


def test_the_summary_leaves_out_the_curves_and_draws_what_applies() -> None:
    evaluation = Evaluation(task="regression", rows=2, metrics={"mse": 0.5})
    spec = EvaluationJobSpec(model="m", ref="m", version=3, version_id="mv-1", method="metrics",
                             file="file-1", target="y")  # fmt: skip
    result = summary(evaluation, spec)
    assert "roc_curves" not in result.model_dump()
    assert (result.model, result.version, result.target, result.rows) == ("m", 3, "y", 2)
    assert result.metrics == {"mse": 0.5} and result.reports is None
    assert draw(evaluation, []) == {}
    epochs = [{"type": "epoch", "epoch": i, "loss": 1.0 / i, "val_loss": 1.5 / i}
              for i in (1, 2, 3)]  # fmt: skip
    plots = draw(evaluation, epochs)
    assert set(plots) == {"Training curves"} and plots["Training curves"].startswith(PNG)

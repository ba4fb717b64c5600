"""The evaluation kind's check at submit on a real registry: the spec resolves the
reference to one version and its method, the target defaults to the model's own, the file
is read and checked against the model at once (a 400/404 naming the field), and the
object shown carries the scores and the report's address once succeeded."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aimaas.config import Settings
from aimaas.errors import AimaasError, InvalidInput, NotFound
from aimaas.evaluate.job_kind import EVALUATION
from aimaas.evaluate.job_spec import EvaluationJobResult, EvaluationJobSpec
from aimaas.jobs.kinds import Submission
from aimaas.jobs.record import JobRecord
from aimaas.protocol.evaluations import EvaluationCreate
from aimaas.registry import repository
from aimaas.registry.db import Database
from aimaas.registry.store import ArtifactStore
from tests.evaluate.conftest import Trained
from tests.jobs.trained import upload


@pytest.fixture
def where(settings: Settings, db: Database, store: ArtifactStore, tenant: str) -> Submission:
    return Submission(settings, db, store, tenant)


def test_the_spec_resolves_the_version_method_and_target(where: Submission, iris: Trained) -> None:
    spec = EVALUATION.validate(where, EvaluationCreate(model="iris", file=iris.evaluation_file))
    with where.db.session() as session:
        _, version = repository.resolve_version(session, tenant_id=where.tenant_id, ref="iris")
    assert spec == EvaluationJobSpec(
        model="iris", ref="iris", version=1, version_id=version.id, method="metrics",
        file=iris.evaluation_file, target="label",
    )  # fmt: skip
    pinned = EVALUATION.validate(
        where, EvaluationCreate(model="iris:1", file=iris.evaluation_file, target="label")
    )
    assert pinned.ref == "iris:1" and pinned.model == "iris" and pinned.target == "label"


def test_a_language_model_is_scored_by_perplexity_without_a_target(
    where: Submission, language_model: str, tmp_path: Path
) -> None:
    texts = upload(where.db, where.store, where.tenant_id, tmp_path / "t", "t.jsonl",
                   b'{"text": "the cat sat"}\n', purpose="evaluation")  # fmt: skip
    spec = EVALUATION.validate(where, EvaluationCreate(model=language_model, file=texts,
                                                       target="ignored"))  # fmt: skip
    assert spec.method == "perplexity" and spec.target is None and spec.version == 1


def test_a_bad_request_is_refused_naming_the_field(where: Submission, iris: Trained) -> None:
    cases: list[tuple[dict[str, Any], type[AimaasError], str]] = [
        ({"model": "nope"}, NotFound, "model"),
        ({"model": "iris:3"}, NotFound, "model"),
        ({"model": "iris@prod"}, NotFound, "model"),
        ({"file": "file-nope"}, NotFound, "file"),
        ({"target": "colour"}, InvalidInput, "target"),
    ]
    for change, error, param in cases:
        body = {"model": "iris", "file": iris.evaluation_file, **change}
        with pytest.raises(error) as refused:
            EVALUATION.validate(where, EvaluationCreate.model_validate(body))
        assert refused.value.param == param, change


def test_a_file_of_the_wrong_kind_is_refused_at_submit(
    where: Submission, iris: Trained, language_model: str
) -> None:
    with pytest.raises(InvalidInput, match="this file is csv") as refused:
        EVALUATION.validate(where, EvaluationCreate(model=language_model,
                                                    file=iris.evaluation_file))  # fmt: skip
    assert refused.value.param == "file"


def record(status: str, result: EvaluationJobResult | None) -> JobRecord[
    EvaluationJobSpec, EvaluationJobResult
]:  # fmt: skip
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    spec = EvaluationJobSpec(model="iris", ref="iris@prod", version=2, version_id="mv-1",
                             method="metrics", file="file-1", target="label")  # fmt: skip
    return JobRecord(
        id="job-1", kind="evaluation", tenant_id="t", status=status, created_at=moment,
        started_at=moment, finished_at=None, error=None, attempts=1, spec=spec, result=result,
    )  # fmt: skip


def test_the_object_shows_the_scores_and_the_report_once_succeeded() -> None:
    queued = EVALUATION.view(record("running", None))
    assert queued.object == "evaluation" and queued.report_url is None
    assert queued.metrics is None and queued.model == "iris" and queued.version == 2
    assert "ref" not in queued.model_dump() and "version_id" not in queued.model_dump()
    result = EvaluationJobResult(
        task="classification", rows=3, metrics={"accuracy": 1.0}, labels=["a"],
        confusion_matrix=[[3]], model="iris", version=2, file="file-1", target="label",
    )  # fmt: skip
    done = EVALUATION.view(record("succeeded", result))
    assert done.report_url == "/v1/evaluations/job-1/report"
    assert done.metrics == {"accuracy": 1.0} and done.rows == 3 and done.notes == []
    assert done.confusion_matrix == [[3]] and done.labels == ["a"]


def test_an_unknown_evaluation_is_its_own_404() -> None:
    assert EVALUATION.not_found is not None
    missing = EVALUATION.not_found("job-x")
    assert isinstance(missing, NotFound) and missing.param == "evaluation_id"
    assert "No evaluation 'job-x'" in missing.message and "GET /v1/evaluations" in missing.message

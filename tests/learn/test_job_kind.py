"""The training kind's check at submit, on files uploaded to the real app: the spec it
resolves (split, seed, hyperparameters with their defaults), the refusals naming the
field, and the job object it shows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from aimaas.errors import InvalidInput, NotFound
from aimaas.jobs.kinds import Submission
from aimaas.jobs.record import JobRecord
from aimaas.learn import hyperparameters as hp
from aimaas.learn.job_kind import TRAINING
from aimaas.learn.job_spec import TrainingJobResult, TrainingJobSpec
from aimaas.protocol.jobs import TrainingJobCreate
from aimaas.registry.tables import Tenant
from aimaas.security.bootstrap import ADMIN_TENANT
from tests.conftest import Api

CSV = b"a,b,label\n" + b"".join(f"{i},{i % 3},{'xy'[i % 2]}\n".encode() for i in range(20))


@pytest.fixture
def submission(api: Api) -> tuple[Submission, str]:
    services = api.client.app.state.services  # type: ignore[attr-defined]
    upload = api.client.post(
        "/v1/files", files={"file": ("t.csv", CSV)}, data={"purpose": "training"},
        headers=api.auth(),
    )  # fmt: skip
    assert upload.status_code in (200, 201), upload.text
    with services.db.session() as session:
        tenant = session.scalar(select(Tenant).where(Tenant.name == ADMIN_TENANT))
        assert tenant is not None
        tenant_id = tenant.id
    where = Submission(services.settings, services.db, services.store, tenant_id)
    return where, upload.json()["id"]


def request(file_id: str, **change: object) -> TrainingJobCreate:
    body = {"model": "m", "algorithm": "mlp", "training_file": file_id, "target": "label"}
    return TrainingJobCreate.model_validate({**body, **change})


def test_the_spec_resolves_what_the_request_left_out(submission: tuple[Submission, str]) -> None:
    where, file_id = submission
    spec = TRAINING.validate(where, request(file_id, hyperparameters={"epochs": 2}))
    assert spec.validation_split == 0.1 and spec.validation_file is None  # the server default
    assert 0 <= spec.seed < 2**31
    assert spec.hyperparameters == hp.MLPHyperparameters(epochs=2)
    with_file = TRAINING.validate(where, request(file_id, validation_file=file_id, seed=5))
    assert with_file.validation_split == 0.0 and with_file.seed == 5


@pytest.mark.parametrize(
    ("change", "error", "param"),
    [
        ({"hyperparameters": {"epochs": 0}}, InvalidInput, "hyperparameters.epochs"),
        ({"algorithm": "boosting"}, InvalidInput, "algorithm"),
        ({"target": "colour"}, InvalidInput, "target"),
        ({"training_file": "file-nope"}, NotFound, "training_file"),
        ({"validation_file": "file-nope"}, NotFound, "validation_file"),
        ({"algorithm": "cnn"}, InvalidInput, "training_file"),  # a table is not images
    ],
)
def test_a_bad_request_is_refused_naming_the_field(
    submission: tuple[Submission, str], change: dict[str, object], error: type, param: str
) -> None:
    where, file_id = submission
    with pytest.raises(error) as refused:
        TRAINING.validate(where, request(file_id, **change))
    assert refused.value.param == param


def test_the_job_object_shows_the_spec_and_what_it_registered() -> None:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    spec = TrainingJobSpec(
        model="m", algorithm="mlp", training_file="file-1", validation_file=None,
        validation_split=0.1, target="label", hyperparameters=hp.MLPHyperparameters(), seed=1,
    )  # fmt: skip
    job: JobRecord[TrainingJobSpec, TrainingJobResult] = JobRecord(
        id="job-1", kind="training", tenant_id="t", status="succeeded", created_at=moment,
        started_at=moment, finished_at=moment, error=None, attempts=1, spec=spec,
        result=TrainingJobResult(model="m", version=2, metrics={"val_accuracy": 0.5}),
    )  # fmt: skip
    shown = TRAINING.view(job)
    assert shown.object == "training.job" and shown.result_version == 2
    assert shown.hyperparameters == hp.MLPHyperparameters().model_dump(mode="json")
    assert shown.metrics == {"val_accuracy": 0.5} and shown.created_at == int(moment.timestamp())

"""The version an optimization starts from, in a real registry with a model trained in this
process: resolved by reference or id within the tenant, refused when it was not trained
here, and the rows its training job trained, validated and is compared on."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from aimaas.config import Settings
from aimaas.errors import InvalidInput, NotFound
from aimaas.jobs.service import JobService
from aimaas.learn.inputs import TrainingData, load_training_data
from aimaas.learn.job_kind import TRAINING
from aimaas.optimize import starting_point
from aimaas.registry import repository
from aimaas.registry.db import Database
from aimaas.registry.formats import GGUF, TORCH_FORMAT
from aimaas.registry.store import ArtifactStore
from aimaas.uploads.dataset import Dataset
from tests.jobs.trained import iris_csv, train, upload

pytestmark = pytest.mark.usefixtures("sigterm_restored")


@pytest.fixture
def trained(
    settings: Settings, db: Database, store: ArtifactStore, service: JobService, tenant: str,
    tmp_path: Path,
) -> tuple[str, str]:  # fmt: skip
    """(training file id, training job id) of the model "iris", version 1."""
    file_id = upload(db, store, tenant, tmp_path / "up", "iris.csv", iris_csv())
    job_id = train(settings, db, store, service, tenant, model="iris", file_id=file_id)
    return file_id, job_id


def test_a_trained_version_resolves_with_its_files_and_description(
    db: Database, store: ArtifactStore, tenant: str, trained: tuple[str, str]
) -> None:
    source = starting_point.resolve(db, store, tenant_id=tenant, ref="iris")
    assert (source.name, source.version, source.task) == ("iris", 1, "classification")
    assert source.format == TORCH_FORMAT and source.weights_name == "model.safetensors"
    assert set(source.files) == {"model.safetensors", "model.json"}
    assert source.document["algorithm"] == "mlp"
    assert source.details.job == trained[1] and source.details.target == "label"
    assert store.read(source.files["model.json"], source.owner).startswith(b"{")
    again = starting_point.by_id(db, store, tenant_id=tenant, version_id=source.version_id)
    assert again == source
    assert starting_point.resolve(db, store, tenant_id=tenant, ref="iris:1") == source


def test_a_missing_or_foreign_version_is_not_found(
    db: Database, store: ArtifactStore, tenant: str, trained: tuple[str, str]
) -> None:
    source = starting_point.resolve(db, store, tenant_id=tenant, ref="iris")
    with db.session() as session:
        other = repository.create_tenant(session, name="other").id
    for ref in ("iris:2", "nope"):
        with pytest.raises(NotFound) as missing:
            starting_point.resolve(db, store, tenant_id=tenant, ref=ref)
        assert missing.value.param == "model"
    with pytest.raises(NotFound):
        starting_point.resolve(db, store, tenant_id=other, ref="iris")
    for tenant_id, version_id in ((other, source.version_id), (tenant, "mv-nope")):
        with pytest.raises(NotFound, match="no longer exists") as gone:
            starting_point.by_id(db, store, tenant_id=tenant_id, version_id=version_id)
        assert gone.value.param == "model"


def test_a_model_not_trained_here_cannot_be_optimized(
    db: Database, store: ArtifactStore, tenant: str
) -> None:
    with db.session() as session:
        repository.register_model(
            session, tenant_id=tenant, name="chat", task="chat", format=GGUF,
            details={"source": {"path": "/models/chat.gguf"}},
        )  # fmt: skip
    with pytest.raises(InvalidInput, match="only models trained here") as refused:
        starting_point.resolve(db, store, tenant_id=tenant, ref="chat")
    assert refused.value.param == "model"


def same(a: Dataset, b: Dataset) -> bool:
    assert a.features is not None and b.features is not None
    assert a.targets is not None and b.targets is not None
    return np.array_equal(a.features, b.features) and np.array_equal(a.targets, b.targets)


def test_the_training_data_is_what_the_training_job_trained_on(
    db: Database, store: ArtifactStore, service: JobService, tenant: str,
    trained: tuple[str, str],
) -> None:  # fmt: skip
    source = starting_point.resolve(db, store, tenant_id=tenant, ref="iris")
    data = starting_point.training_data(db, store, tenant_id=tenant, source=source)
    assert data is not None and data.validation is not None
    spec = service.record(TRAINING, tenant, trained[1]).spec
    expected = load_training_data(db, store, tenant_id=tenant, spec=spec)
    assert expected.validation is not None
    assert same(data.train, expected.train) and same(data.validation, expected.validation)
    assert len(data.train) == 120 and len(data.validation) == 30  # the 0.2 split, seeded
    assert data.file_ids == [trained[0]]
    # A version whose training job is gone (or never was) has no training data.
    for job in ("job-gone", None):
        orphan = dataclasses.replace(source, details=source.details.model_copy(update={"job": job}))
        assert starting_point.training_data(db, store, tenant_id=tenant, source=orphan) is None


def test_the_rows_compared_on_are_the_file_the_validation_rows_or_the_training_rows(
    db: Database, store: ArtifactStore, tenant: str, tmp_path: Path, trained: tuple[str, str]
) -> None:
    source = starting_point.resolve(db, store, tenant_id=tenant, ref="iris")
    data = starting_point.training_data(db, store, tenant_id=tenant, source=source)
    assert data is not None and data.validation is not None
    evaluation = upload(db, store, tenant, tmp_path / "ev", "few.csv", iris_csv(slice(0, 150, 10)),
                        purpose="evaluation")  # fmt: skip
    given = starting_point.evaluation_data(db, store, tenant_id=tenant, source=source,
                                           file_id=evaluation, data=data)  # fmt: skip
    assert len(given) == 15 and given.target_name == "label"
    chosen = starting_point.evaluation_data(db, store, tenant_id=tenant, source=source,
                                            file_id=None, data=data)  # fmt: skip
    assert chosen is data.validation
    unsplit = TrainingData(train=data.train, validation=None, file_ids=data.file_ids)
    chosen = starting_point.evaluation_data(db, store, tenant_id=tenant, source=source,
                                            file_id=None, data=unsplit)  # fmt: skip
    assert chosen is data.train
    with pytest.raises(InvalidInput, match="give an evaluation_file") as refused:
        starting_point.evaluation_data(db, store, tenant_id=tenant, source=source,
                                       file_id=None, data=None)  # fmt: skip
    assert refused.value.param == "evaluation_file"
    with pytest.raises(NotFound) as missing:
        starting_point.evaluation_data(db, store, tenant_id=tenant, source=source,
                                       file_id="file-nope", data=data)  # fmt: skip
    assert missing.value.param == "evaluation_file"

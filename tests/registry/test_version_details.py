"""A version's details read typed and written back exactly as they were."""

from __future__ import annotations

from typing import Any

from aimaas.registry import repository
from aimaas.registry.db import Database
from aimaas.registry.tables import ModelVersion
from aimaas.registry.version_details import RecordedEvaluation, VersionDetails

TRAINED: dict[str, Any] = {
    "files": {"model.safetensors": "d1", "model.json": "d2"},
    "algorithm": "mlp",
    "hyperparameters": {"epochs": 3},
    "seed": 7,
    "target": None,
    "datasets": ["file-1"],
    "metrics": {"val_accuracy": 0.9, "epochs": 3},
    "job": "job-1",
}


def test_a_trained_versions_details_read_typed_and_dump_unchanged() -> None:
    details = VersionDetails.model_validate(TRAINED)
    assert details.weights_name == "model.safetensors" and details.training_job_id == "job-1"
    assert details.evaluations == [] and details.capabilities == []
    assert details.dump() == TRAINED  # "target": None stays, absent keys stay absent


def test_an_optimized_version_names_its_ancestors_training_job() -> None:
    details = VersionDetails.model_validate(
        {"files": {"model.onnx": "d", "model.json": "e"}, "job": "job-2", "training_job": "job-1"}
    )
    assert details.training_job_id == "job-1" and details.weights_name == "model.onnx"


def test_a_served_model_has_its_source_and_no_stored_files() -> None:
    details = VersionDetails.model_validate(
        {"capabilities": ["chat"], "source": {"path": "/models/x"}, "license": "MIT"}
    )
    assert details.stored_files == {} and str(details.model_folder) == "/models/x"


def test_keys_it_does_not_know_are_kept() -> None:
    details = VersionDetails.model_validate({**TRAINED, "from_the_future": {"x": 1}})
    assert details.dump()["from_the_future"] == {"x": 1}


def test_an_added_evaluation_is_written_with_the_rest(db: Database) -> None:
    with db.session() as session:
        _, version = repository.register_model(
            session, tenant_id=None, name="m", task="classification", format="aimaas-torch",
            details=TRAINED,
        )  # fmt: skip
        recorded = RecordedEvaluation(
            id="job-9",
            file="file-1",
            target=None,
            metrics={"accuracy": 1.0},
            finished_at="2026-01-01T00:00:00",
        )
        current = VersionDetails.of(version)
        version.details = current.model_copy(update={"evaluations": [recorded]}).dump()
        version_id = version.id
    with db.session() as session:
        row = session.get(ModelVersion, version_id)
        assert row is not None
        assert row.details == {**TRAINED, "evaluations": [recorded.model_dump()]}
        assert VersionDetails.of(row).evaluations == [recorded]

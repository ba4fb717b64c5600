"""From a job's file ids to the datasets it trains and validates on.

Used twice with the same code: by the API when a job is submitted (so a missing target
column or an unsuitable file is a 400 at once, not a failed job later) and by the worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aimaas.errors import InvalidInput, NotFound
from aimaas.learn import algorithms
from aimaas.learn.dataset import Dataset, split
from aimaas.registry.db import Database
from aimaas.registry.store import ArtifactStore, Owner
from aimaas.registry.tables import File
from aimaas.uploads.datasets import read_dataset, stored_summary


@dataclass(frozen=True)
class TrainingData:
    train: Dataset
    validation: Dataset | None
    file_ids: list[str]


def read_file(
    db: Database, store: ArtifactStore, *, tenant_id: str, file_id: str, target: str | None,
    param: str,
) -> Dataset:  # fmt: skip
    with db.session() as session:
        row = session.get(File, file_id)
        if row is None or row.tenant_id != tenant_id:
            raise NotFound(f"No file {file_id!r}; upload one with POST /v1/files.", param=param)
        digest, details = row.artifact_digest, dict(row.details)
    try:
        with store.open(digest, Owner.file(tenant_id, file_id)) as local:  # in memory if sealed
            return read_dataset(local.path, stored_summary(details), target=target)
    except InvalidInput as exc:
        raise InvalidInput(f"{param}: {exc.message}", param=exc.param or param) from exc


def load_training_data(
    db: Database, store: ArtifactStore, *, tenant_id: str, spec: dict[str, Any]
) -> TrainingData:
    """The datasets of a job spec, checked against its algorithm."""
    algorithm, target = spec["algorithm"], spec.get("target")
    train = read_file(
        db, store, tenant_id=tenant_id, file_id=spec["training_file"], target=target,
        param="training_file",
    )  # fmt: skip
    algorithms.check_dataset(algorithm, train, param="training_file")
    files = [spec["training_file"]]
    validation: Dataset | None = None
    if spec.get("validation_file"):
        validation = read_file(
            db, store, tenant_id=tenant_id, file_id=spec["validation_file"], target=target,
            param="validation_file",
        )  # fmt: skip
        algorithms.check_dataset(algorithm, validation, param="validation_file", validation=True)
        files.append(spec["validation_file"])
    elif spec["validation_split"] > 0:
        train, validation = split(train, spec["validation_split"], spec["seed"])
    return TrainingData(train=train, validation=validation, file_ids=files)

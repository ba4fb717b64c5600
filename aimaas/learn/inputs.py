"""From a job's file ids to the datasets it trains and validates on.

Used with the same code by the API when a job is submitted (checked then, so a missing
target column or an unsuitable file is a 400 at once, not a failed job later), by the
worker (the trainer checks what it trains on) and by optimizations (the rows a version
was trained on).
"""

from __future__ import annotations

from dataclasses import dataclass

from aimaas.errors import InvalidInput, NotFound
from aimaas.learn import algorithms
from aimaas.learn.job_spec import TrainingJobSpec
from aimaas.registry.db import Database
from aimaas.registry.store import ArtifactStore, Owner
from aimaas.registry.tables import File
from aimaas.uploads.dataset import Dataset, split
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
    db: Database, store: ArtifactStore, *, tenant_id: str, spec: TrainingJobSpec,
    check: bool = False,
) -> TrainingData:  # fmt: skip
    """The datasets of a job spec; with ``check``, each file checked against the algorithm
    as it is read (at submit)."""
    train = read_file(
        db, store, tenant_id=tenant_id, file_id=spec.training_file, target=spec.target,
        param="training_file",
    )  # fmt: skip
    if check:
        algorithms.check_dataset(spec.algorithm, train, param="training_file")
    files = [spec.training_file]
    validation: Dataset | None = None
    if spec.validation_file:
        validation = read_file(
            db, store, tenant_id=tenant_id, file_id=spec.validation_file, target=spec.target,
            param="validation_file",
        )  # fmt: skip
        if check:
            algorithms.check_dataset(
                spec.algorithm, validation, param="validation_file", validation=True
            )
        files.append(spec.validation_file)
    elif spec.validation_split > 0:
        train, validation = split(train, spec.validation_split, spec.seed)
    return TrainingData(train=train, validation=validation, file_ids=files)

"""The version an optimization starts from, and the data it was trained on.

A version's registry ``details`` name the job that made it. For a trained version that
is its training job, whose spec has the files, target, validation split and seed, so
``load_training_data`` gives back exactly the rows it was trained and validated on. An
optimized version keeps its ancestor's training job as ``training_job``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aimaas.errors import InvalidInput, NotFound
from aimaas.learn.inputs import TrainingData, load_training_data, read_file
from aimaas.learn.job_kind import TRAINING
from aimaas.learn.job_spec import TrainingJobSpec
from aimaas.registry import jobs, repository
from aimaas.registry.db import Database
from aimaas.registry.formats import TENSOR_FORMATS
from aimaas.registry.store import ArtifactStore, Owner
from aimaas.registry.tables import Model, ModelVersion
from aimaas.registry.version_details import VersionDetails
from aimaas.uploads.dataset import Dataset


@dataclass(frozen=True)
class Source:
    name: str
    version: int
    version_id: str
    task: str
    format: str
    files: dict[str, str]  # file name -> digest in the store
    details: VersionDetails
    document: dict[str, Any]  # model.json
    owner: Owner  # whose files they are (what they are sealed for, encrypted at rest)

    @property
    def weights_name(self) -> str:
        return self.details.weights_name


def resolve(db: Database, store: ArtifactStore, *, tenant_id: str, ref: str) -> Source:
    """The version ``ref`` (``name``, ``name:2``, ``name@alias``) means, if it is a model
    trained here; NotFound / InvalidInput(param="model") otherwise."""
    with db.session() as session:
        model, version = repository.resolve_version(session, tenant_id=tenant_id, ref=ref)
        return _source(store, model, version)


def by_id(db: Database, store: ArtifactStore, *, tenant_id: str, version_id: str) -> Source:
    with db.session() as session:
        version = session.get(ModelVersion, version_id)
        model = None if version is None else session.get(Model, version.model_id)
        if version is None or model is None or model.tenant_id != tenant_id:
            raise NotFound("The version to optimize no longer exists.", param="model")
        return _source(store, model, version)


def _source(store: ArtifactStore, model: Model, version: ModelVersion) -> Source:
    details = VersionDetails.of(version)
    if version.format not in TENSOR_FORMATS or details.files is None:
        raise InvalidInput(
            f"Model {model.name!r} version {version.version} is a {version.format!r} model; "
            "only models trained here can be optimized.",
            param="model",
        )
    owner = Owner.model(model.tenant_id, model.name, version.id, version.version)
    document = json.loads(store.read(details.files["model.json"], owner))
    return Source(
        name=model.name,
        version=version.version,
        version_id=version.id,
        task=model.task,
        format=version.format,
        files=dict(details.files),
        details=details,
        document=document,
        owner=owner,
    )


def training_data(db: Database, store: ArtifactStore, *, tenant_id: str, source: Source) -> (
    TrainingData | None
):  # fmt: skip
    """The rows the source's ancestor was trained and validated on, or None when its
    training job is gone."""
    job_id = source.details.training_job_id
    if job_id is None:
        return None
    with db.session() as session:
        try:
            job = jobs.get_job(session, job_id=job_id, tenant_id=tenant_id, kind=TRAINING.name)
        except NotFound:
            return None
        spec = TrainingJobSpec.model_validate(job.spec)
    return load_training_data(db, store, tenant_id=tenant_id, spec=spec)


def evaluation_data(
    db: Database,
    store: ArtifactStore,
    *,
    tenant_id: str,
    source: Source,
    file_id: str | None,
    data: TrainingData | None,
) -> Dataset:
    """The rows a comparison is scored on: ``file_id``, else the validation rows of the
    training job, else its training rows."""
    if file_id is not None:
        return read_file(
            db, store, tenant_id=tenant_id, file_id=file_id, target=source.details.target,
            param="evaluation_file",
        )  # fmt: skip
    if data is None:
        raise InvalidInput(
            f"Model {source.name!r} version {source.version} has no training job to take "
            "validation rows from; give an evaluation_file.",
            param="evaluation_file",
        )
    return data.validation if data.validation is not None else data.train

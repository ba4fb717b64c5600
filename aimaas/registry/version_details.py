"""What a model version's ``details`` JSON holds, as one typed value.

Every kind of version keeps its own part: a trained one its files, algorithm,
hyperparameters, seed, target, datasets, metrics and the job that made it; an optimized one
also its parent, the method and the comparison with the parent; a served one (GGUF, Hugging
Face) its capabilities, source, serving options and license. Evaluations that succeeded
on a tenant's own version are recorded on it for the promotion gate.

``dump`` writes back exactly the keys that were read or set, so a version read and written
again keeps its JSON as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from aimaas.registry.formats import weights_file
from aimaas.registry.tables import ModelVersion


class ParentVersion(BaseModel):
    version: int
    id: str


class OptimizationMethod(BaseModel):
    method: str
    options: dict[str, Any] | None = None


class RecordedEvaluation(BaseModel):
    """A succeeded evaluation of the version, as the promotion gate reads it."""

    id: str
    file: str
    target: str | None = None
    metrics: dict[str, float]
    finished_at: str


class VersionDetails(BaseModel):
    # Unknown keys (a newer server's) are kept, so that writing a version back loses nothing.
    model_config = ConfigDict(extra="allow")

    # Trained, optimized and uploaded tensor models: file name -> digest in the store.
    files: dict[str, str] | None = None
    algorithm: str | None = None
    hyperparameters: dict[str, Any] | None = None
    seed: int | None = None
    target: str | None = None
    datasets: list[str] | None = None
    metrics: dict[str, Any] | None = None  # an uploaded model.json's are not checked
    job: str | None = None  # the job that made this version
    training_job: str | None = None  # an optimized version's ancestor's training job
    parent: ParentVersion | None = None
    optimization: OptimizationMethod | None = None
    comparison: dict[str, Any] | None = None  # optimize.compare's document
    uploaded: dict[str, str] | None = None  # the file ids it was registered from
    evaluations: list[RecordedEvaluation] = []
    # Served models (GGUF, Hugging Face, sentence-transformers).
    capabilities: list[str] = []
    source: dict[str, Any] = {}
    options: dict[str, Any] = {}
    license: str | None = None

    @classmethod
    def of(cls, version: ModelVersion) -> VersionDetails:
        return cls.model_validate(version.details or {})

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True)

    @property
    def stored_files(self) -> dict[str, str]:
        """The version's files in the store (none for a served model)."""
        return dict(self.files or {})

    @property
    def weights_name(self) -> str:
        return weights_file(self.stored_files)

    @property
    def training_job_id(self) -> str | None:
        """The job that trained this version or, for an optimized one, its ancestor."""
        return self.training_job or self.job

    @property
    def model_folder(self) -> Path:
        """A Hugging Face model's folder on this machine."""
        return Path(str(self.source.get("path", "")))

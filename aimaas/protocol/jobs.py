"""Training jobs: the request that starts one, the job object, its progress events."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from aimaas.protocol.common import Strict

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


class TrainingJobCreate(Strict):
    model: str = Field(
        min_length=1, max_length=64, pattern=NAME_PATTERN, description="Name to register."
    )
    algorithm: str = Field(min_length=1, max_length=64)
    training_file: str = Field(min_length=1, max_length=64)
    validation_file: str | None = Field(None, min_length=1, max_length=64)
    validation_split: float | None = Field(
        None,
        ge=0.0,
        le=0.5,
        description="Share of the training rows held out for validation when there is no "
        "validation_file (default 0.1; 0 for none).",
    )
    target: str | None = Field(None, min_length=1, max_length=256, description="CSV column.")
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    seed: int | None = Field(None, ge=0, le=2**31 - 1)


class JobState(BaseModel):
    """What every job object (training, evaluation, optimization) shows of its job row."""

    id: str
    object: str
    status: JobStatus
    created_at: int
    started_at: int | None
    finished_at: int | None
    error: str | None = None


class ProducingJobState(JobState):
    """A job that registers a model version: its attempts and what it registered."""

    attempts: int
    result_model: str | None = None
    result_version: int | None = None


class TrainingJob(ProducingJobState):
    object: Literal["training.job"] = "training.job"
    model: str
    algorithm: str
    training_file: str
    validation_file: str | None
    validation_split: float
    target: str | None
    hyperparameters: dict[str, Any]
    seed: int
    metrics: dict[str, float] | None = None


class TrainingJobList(BaseModel):
    object: Literal["list"] = "list"
    data: list[TrainingJob]


class JobEventOut(BaseModel):
    """One progress event: ``type`` is epoch, step, resumed, early_stop, status, ..."""

    id: int
    object: Literal["training.job.event"] = "training.job.event"
    created_at: int
    type: str
    data: dict[str, Any]


class JobEventList(BaseModel):
    object: Literal["list"] = "list"
    data: list[JobEventOut]

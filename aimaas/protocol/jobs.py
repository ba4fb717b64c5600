"""Training jobs: the request that starts one, the job object, its progress events."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from aimaas.protocol.common import Strict
from aimaas.registry.tables import Job, JobEvent

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

    @staticmethod
    def state_of(job: Job) -> dict[str, Any]:
        return {
            "id": job.id,
            "status": job.status,
            "created_at": int(job.created_at.timestamp()),
            "started_at": int(job.started_at.timestamp()) if job.started_at else None,
            "finished_at": int(job.finished_at.timestamp()) if job.finished_at else None,
            "error": job.error,
        }


class ProducingJobState(JobState):
    """A job that registers a model version: its attempts and what it registered."""

    attempts: int
    result_model: str | None = None
    result_version: int | None = None

    @staticmethod
    def state_of(job: Job) -> dict[str, Any]:
        result = job.result or {}
        return JobState.state_of(job) | {
            "attempts": job.attempts,
            "result_model": result.get("model"),
            "result_version": result.get("version"),
        }


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

    @classmethod
    def from_row(cls, job: Job) -> TrainingJob:
        spec, result = job.spec, job.result or {}
        return cls(
            **cls.state_of(job),
            model=spec["model"],
            algorithm=spec["algorithm"],
            training_file=spec["training_file"],
            validation_file=spec.get("validation_file"),
            validation_split=spec["validation_split"],
            target=spec.get("target"),
            hyperparameters=spec["hyperparameters"],
            seed=spec["seed"],
            metrics=result.get("metrics"),
        )


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

    @classmethod
    def from_row(cls, event: JobEvent) -> JobEventOut:
        data = dict(event.data)
        kind = str(data.pop("type", "info"))
        return cls(id=event.id, created_at=int(event.created_at.timestamp()), type=kind, data=data)


class JobEventList(BaseModel):
    object: Literal["list"] = "list"
    data: list[JobEventOut]

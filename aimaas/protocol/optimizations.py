"""Optimizations: the request that starts one and the optimization object."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from aimaas.protocol.common import Strict
from aimaas.protocol.jobs import JobStatus
from aimaas.registry.tables import Job


class OptimizationCreate(Strict):
    model: str = Field(
        min_length=1, max_length=200, description="'name', 'name:VERSION' or 'name@ALIAS'."
    )
    method: str = Field(
        min_length=1,
        max_length=64,
        description="quantize_dynamic, quantize_static, prune, prune_structured or export_onnx.",
    )
    options: dict[str, Any] = Field(default_factory=dict, description="The method's options.")
    evaluation_file: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="A file id to compare parent and child on (default: the validation "
        "rows of the parent's training job, else its training rows).",
    )


class OptimizationObject(BaseModel):
    id: str
    object: Literal["optimization"] = "optimization"
    status: JobStatus
    model: str  # the reference as requested
    source_model: str
    source_version: int
    method: str
    options: dict[str, Any]
    evaluation_file: str | None
    created_at: int
    started_at: int | None
    finished_at: int | None
    attempts: int
    result_model: str | None = None
    result_version: int | None = None
    comparison: dict[str, Any] | None = None
    error: str | None = None

    @classmethod
    def from_row(cls, job: Job) -> OptimizationObject:
        spec, result = job.spec, job.result or {}
        return cls(
            id=job.id,
            status=job.status,
            model=spec["model"],
            source_model=spec["source_model"],
            source_version=spec["source_version"],
            method=spec["method"],
            options=spec["options"],
            evaluation_file=spec.get("evaluation_file"),
            created_at=int(job.created_at.timestamp()),
            started_at=int(job.started_at.timestamp()) if job.started_at else None,
            finished_at=int(job.finished_at.timestamp()) if job.finished_at else None,
            attempts=job.attempts,
            result_model=result.get("model"),
            result_version=result.get("version"),
            comparison=result.get("comparison"),
            error=job.error,
        )


class OptimizationList(BaseModel):
    object: Literal["list"] = "list"
    data: list[OptimizationObject]

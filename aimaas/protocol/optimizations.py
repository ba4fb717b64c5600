"""Optimizations: the request that starts one and the optimization object."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from aimaas.protocol.common import Strict
from aimaas.protocol.jobs import ProducingJobState
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


class OptimizationObject(ProducingJobState):
    object: Literal["optimization"] = "optimization"
    model: str  # the reference as requested
    source_model: str
    source_version: int
    method: str
    options: dict[str, Any]
    evaluation_file: str | None
    comparison: dict[str, Any] | None = None

    @classmethod
    def from_row(cls, job: Job) -> OptimizationObject:
        spec, result = job.spec, job.result or {}
        return cls(
            **cls.state_of(job),
            model=spec["model"],
            source_model=spec["source_model"],
            source_version=spec["source_version"],
            method=spec["method"],
            options=spec["options"],
            evaluation_file=spec.get("evaluation_file"),
            comparison=result.get("comparison"),
        )


class OptimizationList(BaseModel):
    object: Literal["list"] = "list"
    data: list[OptimizationObject]

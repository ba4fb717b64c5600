"""Optimizations: the request that starts one and the optimization object."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from aimaas.protocol.common import Strict
from aimaas.protocol.jobs import ProducingJobState


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


class OptimizationList(BaseModel):
    object: Literal["list"] = "list"
    data: list[OptimizationObject]

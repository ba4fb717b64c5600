"""Evaluations: the request that starts one and the evaluation object."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from aimaas.protocol.common import Strict
from aimaas.protocol.jobs import JobState


class EvaluationCreate(Strict):
    model: str = Field(
        min_length=1, max_length=200, description="'name', 'name:VERSION' or 'name@ALIAS'."
    )
    file: str = Field(min_length=1, max_length=64, description="A file id from /v1/files.")
    target: str | None = Field(
        None,
        min_length=1,
        max_length=256,
        description="The CSV column to score against (default: the one the model was "
        "trained to predict).",
    )


class EvaluationObject(JobState):
    object: Literal["evaluation"] = "evaluation"
    model: str
    version: int
    method: Literal["metrics", "perplexity"]
    file: str
    target: str | None
    task: str | None = None
    rows: int | None = None
    metrics: dict[str, float] | None = None
    per_class: dict[str, dict[str, float]] | None = None
    confusion_matrix: list[list[int]] | None = None
    labels: list[Any] | None = None
    unseen_labels: dict[str, int] | None = None
    notes: list[str] | None = None
    report_url: str | None = None


class EvaluationList(BaseModel):
    object: Literal["list"] = "list"
    data: list[EvaluationObject]

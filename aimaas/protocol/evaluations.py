"""Evaluations and model aliases: requests, the evaluation object, alias objects."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from aimaas.protocol.common import Strict
from aimaas.protocol.jobs import JobState
from aimaas.registry.tables import Job, ModelAlias, ModelVersion


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

    @classmethod
    def from_row(cls, job: Job) -> EvaluationObject:
        spec, result = job.spec, job.result or {}
        done = job.status == "succeeded"
        return cls(
            **cls.state_of(job),
            model=spec["model"],
            version=spec["version"],
            method=spec["method"],
            file=spec["file"],
            target=spec.get("target"),
            task=result.get("task"),
            rows=result.get("rows"),
            metrics=result.get("metrics"),
            per_class=result.get("per_class"),
            confusion_matrix=result.get("confusion_matrix"),
            labels=result.get("labels"),
            unseen_labels=result.get("unseen_labels"),
            notes=result.get("notes"),
            report_url=f"/v1/evaluations/{job.id}/report" if done else None,
        )


class EvaluationList(BaseModel):
    object: Literal["list"] = "list"
    data: list[EvaluationObject]


class Requirement(Strict):
    metric: str = Field(min_length=1, max_length=64, description="e.g. 'f1_macro'.")
    min: float | None = Field(
        None, description="The bound the candidate must reach (a maximum for lower-is-better)."
    )
    at_least_current: bool = Field(
        False, description="The candidate must be at least as good as the alias's version."
    )
    file: str | None = Field(
        None, min_length=1, max_length=64, description="Compare evaluations on this file."
    )


class AliasSet(Strict):
    version: int = Field(ge=1)
    require: Requirement | None = None


class AliasObject(BaseModel):
    object: Literal["model.alias"] = "model.alias"
    model: str
    alias: str
    version: int
    updated_at: int
    check: dict[str, Any] | None = None  # what the promotion gate compared

    @classmethod
    def from_rows(
        cls, model: str, alias: ModelAlias, version: ModelVersion, check: dict[str, Any] | None
    ) -> AliasObject:
        return cls(
            model=model,
            alias=alias.alias,
            version=version.version,
            updated_at=int(alias.updated_at.timestamp()),
            check=check,
        )


class AliasList(BaseModel):
    object: Literal["list"] = "list"
    data: list[AliasObject]


class AliasDeleted(BaseModel):
    object: Literal["model.alias.deleted"] = "model.alias.deleted"
    model: str
    alias: str
    deleted: bool = True

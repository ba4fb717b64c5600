"""What an evaluation job is asked to score, as resolved at submit, and what it gives back."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Method = Literal["metrics", "perplexity"]


class EvaluationJobSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    model: str  # the model's name
    ref: str  # the reference as requested: name, name:VERSION or name@ALIAS
    version: int
    version_id: str  # the version the reference meant at submit
    method: Method
    file: str
    target: str | None  # the request's, else the model's own (None for perplexity)


class EvaluationReports(BaseModel):
    html: str  # digests in the artifact store
    plots: dict[str, str]  # title -> PNG


class EvaluationJobResult(BaseModel):
    """The evaluation without its curve points, what was scored, and the report's files."""

    task: str
    rows: int
    metrics: dict[str, float]
    per_class: dict[str, dict[str, float]] | None = None
    confusion_matrix: list[list[int]] | None = None
    labels: list[Any] | None = None
    unseen_labels: dict[str, int] | None = None
    notes: list[str] = []
    model: str
    version: int
    file: str
    target: str | None
    reports: EvaluationReports | None = None

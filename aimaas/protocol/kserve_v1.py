"""KServe v1-style predictions: ``{"instances": [...]}`` -> ``{"predictions": [...]}``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from aimaas.protocol.common import Strict

MAX_INSTANCES = 10_000


class PredictRequest(Strict):
    instances: list[Any] = Field(
        min_length=1,
        max_length=MAX_INSTANCES,
        description="Rows as {column: value} objects or lists, texts, base64 images "
        "(or {'b64': ...}), as the model was trained on.",
    )


class PredictResponse(BaseModel):
    model: str
    version: int
    predictions: list[dict[str, Any]]

"""Open Inference Protocol v2: server-level metadata."""

from __future__ import annotations

from pydantic import BaseModel


class ServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str]


class V2Error(BaseModel):
    error: str

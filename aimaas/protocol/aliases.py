"""Model aliases: moving one (through the promotion gate), the alias objects."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from aimaas.protocol.common import Strict


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


class AliasList(BaseModel):
    object: Literal["list"] = "list"
    data: list[AliasObject]


class AliasDeleted(BaseModel):
    object: Literal["model.alias.deleted"] = "model.alias.deleted"
    model: str
    alias: str
    deleted: bool = True

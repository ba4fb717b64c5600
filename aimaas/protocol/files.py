"""OpenAI's file object, its list and the answer to a delete."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class FileObject(BaseModel):
    id: str
    object: Literal["file"] = "file"
    bytes: int
    created_at: int = Field(description="Unix seconds.")
    filename: str
    purpose: str
    details: dict[str, Any] | None = Field(
        None, description="What aimaas read from the file: its format, rows, columns, classes."
    )


class FileList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FileObject]
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool = False  # OpenAI's clients page on until this is false


class FileDeleted(BaseModel):
    id: str
    object: Literal["file"] = "file"
    deleted: bool = True

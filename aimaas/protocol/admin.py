"""Admin API: tenants and keys."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from aimaas.protocol.common import Strict
from aimaas.protocol.scopes import DEFAULT_SCOPES, Scope


class TenantCreate(Strict):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class TenantOut(BaseModel):
    id: str
    name: str
    created_at: datetime


class TenantList(BaseModel):
    object: str = "list"
    data: list[TenantOut]


class KeyCreate(Strict):
    tenant: str = Field(min_length=1, max_length=64, description="Tenant id or name.")
    scopes: list[Scope] = Field(default_factory=lambda: list(DEFAULT_SCOPES), min_length=1)
    name: str | None = Field(None, max_length=128)
    expires_at: datetime | None = None


class KeyOut(BaseModel):
    id: str
    tenant: str
    tenant_name: str
    name: str | None
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class KeyCreated(KeyOut):
    key: str = Field(description="The secret key. Shown only in this response.")


class KeyList(BaseModel):
    object: str = "list"
    data: list[KeyOut]


class ModelRegister(Strict):
    """Register a model file already on the server's disk (admin only: it names a path)."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    gguf: str | None = Field(None, max_length=4096, description="Path of a GGUF file.")
    hf_dir: str | None = Field(
        None,
        max_length=4096,
        description="Path of a Hugging Face folder: a causal LM (safetensors) or a "
        "sentence-transformers model.",
    )
    tenant: str | None = Field(None, description="Owner; omit to share with every tenant.")
    context_length: int | None = Field(None, ge=128, le=1_048_576)
    parallel: int | None = Field(None, ge=1, le=256)
    threads: int | None = Field(None, ge=1, le=1024)
    max_queue: int | None = Field(None, ge=0, le=100_000)
    keep_alive_seconds: float | None = Field(None, ge=0)
    chat_template: str | None = Field(
        None,
        min_length=1,
        max_length=65_536,
        description="A Jinja chat template to use instead of the model's own (for a model "
        "without one, or one that renders tools so the model can call them).",
    )


class ModelRegistered(BaseModel):
    id: str
    name: str
    version: int
    owner: str
    format: str
    capabilities: list[str]

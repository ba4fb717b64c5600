"""The audit log on the wire: ``GET /v1/admin/audit``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class AuditEventOut(BaseModel):
    id: int
    created_at: datetime
    action: str
    key_id: str | None = Field(description="The key that acted; null: the local CLI.")
    actor_tenant: str | None = Field(description="The tenant of that key.")
    tenant: str | None = Field(description="The tenant acted on.")
    tenant_name: str | None = None
    target: str | None = Field(description="What was acted on: a tenant, key, file, job ...")
    client: str | None = Field(description="The client's address.")
    request_id: str | None
    details: dict[str, Any]


class AuditList(BaseModel):
    object: Literal["list"] = "list"
    data: list[AuditEventOut]

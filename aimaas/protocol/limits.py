"""Limits, quotas and usage: ``/v1/admin/{keys,tenants}/{id}/limits`` and ``/v1/usage``."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, Field
from pydantic import Strict as StrictType

from aimaas.protocol.common import Strict

MAX_RATE = 1_000_000_000  # requests or jobs
MAX_AMOUNT = 10**15  # tokens or bytes

Rate = Annotated[int, StrictType(), Field(ge=0, le=MAX_RATE)]
Amount = Annotated[int, StrictType(), Field(ge=0, le=MAX_AMOUNT)]


class KeyLimitsSet(Strict):
    """A key's limits; null or missing: no limit; 0: nothing allowed."""

    requests_per_minute: Rate | None = None
    tokens_per_minute: Amount | None = None
    tokens_per_day: Amount | None = Field(None, description="Calendar day, UTC.")
    tokens_per_month: Amount | None = Field(None, description="Calendar month, UTC.")


class TenantLimitsSet(KeyLimitsSet):
    """A tenant's limits: every key of the tenant together, plus job submissions
    (training, evaluation, optimization) and uploaded bytes per UTC day."""

    jobs_per_day: Rate | None = None
    upload_bytes_per_day: Amount | None = None


class LimitsOut(BaseModel):
    object: Literal["limits"] = "limits"
    subject: Literal["key", "tenant"]
    id: str
    name: str | None = None
    limits: dict[str, int | None]
    used: dict[str, int] = Field(
        description="Use in each limit's current window, requests in flight included."
    )
    remaining: dict[str, int | None]


class UsageQuery(BaseModel):
    """Whose usage, over which UTC days: ``GET /v1/usage``'s query parameters."""

    scope: Literal["key", "tenant"] = "key"
    tenant: str | None = Field(None, max_length=64, description="Admins: a tenant's id or name.")
    key: str | None = Field(None, max_length=64, description="Admins: a key's id.")
    start: date | None = Field(None, description="First day (UTC), included.")
    end: date | None = Field(None, description="Last day (UTC), included.")


class UsageEntry(BaseModel):
    date: str
    model: str
    key_id: str | None
    requests: int
    prompt_tokens: int
    completion_tokens: int


class UsageList(BaseModel):
    object: Literal["list"] = "list"
    start: str
    end: str
    data: list[UsageEntry]
    limits: dict[str, LimitsOut] = Field(
        description="The limits that bind the usage shown: 'key' and/or 'tenant'."
    )


def validated(kind: Literal["key", "tenant"], values: dict[str, object]) -> dict[str, int | None]:
    """``values`` checked as the admin API checks them (for the local CLI): InvalidInput
    naming the first bad field."""
    from pydantic import ValidationError

    from aimaas.errors import InvalidInput

    schema = KeyLimitsSet if kind == "key" else TenantLimitsSet
    try:
        return schema.model_validate(values).model_dump()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "limits"
        raise InvalidInput(f"Invalid value for '{field}': {first['msg']}.", param=field) from None

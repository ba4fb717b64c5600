"""Limits and usage in the registry: the limits stored on keys and tenants, the sums that
seed the in-memory quotas (security/limits.py), and the usage report of ``GET /v1/usage``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aimaas.errors import NotFound
from aimaas.registry.tables import ApiKey, File, Job, Tenant, UsageRecord


def find_key(session: Session, *, key_id: str) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(
            f"Key {key_id!r} not found; `aimaas keys list` shows the keys.", param="key_id"
        )
    return row


def limits_of(session: Session, *, key_id: str, tenant_id: str) -> tuple[Any, Any]:
    """The stored limits (JSON objects or None) of a key and of a tenant."""
    key_limits = session.scalar(select(ApiKey.limits).where(ApiKey.id == key_id))
    tenant_limits = session.scalar(select(Tenant.limits).where(Tenant.id == tenant_id))
    return key_limits, tenant_limits


@dataclass(frozen=True)
class Totals:
    requests: int = 0
    tokens: int = 0


def _owner(kind: str, owner_id: str) -> Any:
    return (UsageRecord.key_id if kind == "key" else UsageRecord.tenant_id) == owner_id


def totals_since(session: Session, *, kind: str, owner_id: str, since: datetime) -> Totals:
    """Requests and tokens a key or a tenant has used since ``since``."""
    row = session.execute(
        select(
            func.count(UsageRecord.id),
            func.coalesce(func.sum(UsageRecord.prompt_tokens + UsageRecord.completion_tokens), 0),
        ).where(_owner(kind, owner_id), UsageRecord.created_at >= since)
    ).one()
    return Totals(requests=int(row[0]), tokens=int(row[1]))


def events_since(
    session: Session, *, kind: str, owner_id: str, since: datetime
) -> list[tuple[datetime, int]]:
    """Each request's time and tokens since ``since`` (a minute: a few rows)."""
    rows = session.execute(
        select(UsageRecord.created_at, UsageRecord.prompt_tokens + UsageRecord.completion_tokens)
        .where(_owner(kind, owner_id), UsageRecord.created_at >= since)
        .order_by(UsageRecord.created_at)
    ).all()
    return [(row[0], int(row[1])) for row in rows]


def jobs_since(session: Session, *, tenant_id: str, since: datetime) -> int:
    count = session.scalar(
        select(func.count(Job.id)).where(Job.tenant_id == tenant_id, Job.created_at >= since)
    )
    return int(count or 0)


def upload_bytes_since(session: Session, *, tenant_id: str, since: datetime) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(File.bytes), 0)).where(
            File.tenant_id == tenant_id, File.created_at >= since
        )
    )
    return int(total or 0)


@dataclass(frozen=True)
class DailyUsage:
    date: str
    model: str
    key_id: str | None
    requests: int
    prompt_tokens: int
    completion_tokens: int


def usage_by_day(
    session: Session,
    *,
    start: date,
    end: date,
    tenant_id: str | None = None,
    key_id: str | None = None,
) -> list[DailyUsage]:
    """Usage per UTC day, model and key, from ``start`` to ``end`` (both included)."""
    day = func.date(UsageRecord.created_at)
    query = (
        select(
            day,
            UsageRecord.model,
            UsageRecord.key_id,
            func.count(UsageRecord.id),
            func.coalesce(func.sum(UsageRecord.prompt_tokens), 0),
            func.coalesce(func.sum(UsageRecord.completion_tokens), 0),
        )
        .where(
            UsageRecord.created_at >= datetime(start.year, start.month, start.day),
            UsageRecord.created_at < datetime(end.year, end.month, end.day) + timedelta(days=1),
        )
        .group_by(day, UsageRecord.model, UsageRecord.key_id)
        .order_by(day, UsageRecord.model, UsageRecord.key_id)
    )
    if tenant_id is not None:
        query = query.where(UsageRecord.tenant_id == tenant_id)
    if key_id is not None:
        query = query.where(UsageRecord.key_id == key_id)
    return [
        DailyUsage(
            date=str(row[0]),
            model=row[1],
            key_id=row[2],
            requests=int(row[3]),
            prompt_tokens=int(row[4]),
            completion_tokens=int(row[5]),
        )
        for row in session.execute(query).all()
    ]

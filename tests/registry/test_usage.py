"""Limits and usage in the registry (aimaas/registry/usage.py) on a real registry: stored
limits, the sums that seed the quotas (requests, tokens, jobs, upload bytes since a time),
a minute's events, and the report by UTC day, model and key."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from aimaas.errors import NotFound
from aimaas.registry import files, jobs, repository, usage
from aimaas.registry.db import Database
from aimaas.registry.tables import ApiKey, Tenant
from aimaas.security.keys import issue_key

NOON = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


def _setup(session: Session) -> tuple[Tenant, ApiKey, ApiKey]:
    tenant = repository.create_tenant(session, name="acme")
    first, _ = issue_key(session, tenant=tenant, scopes=["infer"])
    second, _ = issue_key(session, tenant=tenant, scopes=["infer"])
    return tenant, first, second


def _use(
    session: Session, tenant: Tenant, key: ApiKey | None, at: datetime, prompt: int,
    completion: int = 0, model: str = "m",
) -> None:  # fmt: skip
    row = repository.RequestUsage(
        tenant_id=tenant.id, key_id=None if key is None else key.id, model=model,
        endpoint="/v1/chat", prompt_tokens=prompt, completion_tokens=completion, created_at=at,
    )  # fmt: skip
    repository.record_usage(session, [row])


def test_find_key_and_the_stored_limits(db: Database) -> None:
    with db.session() as session:
        tenant, key, _ = _setup(session)
        assert usage.find_key(session, key_id=key.id) is key
        with pytest.raises(NotFound) as missing:
            usage.find_key(session, key_id="key-nope")
        assert missing.value.param == "key_id"
        assert usage.limits_of(session, key_id=key.id, tenant_id=tenant.id) == (None, None)
        key.limits = {"tokens_per_day": 5}
        tenant.limits = {"jobs_per_day": 1}
        session.flush()
        assert usage.limits_of(session, key_id=key.id, tenant_id=tenant.id) == (
            {"tokens_per_day": 5},
            {"jobs_per_day": 1},
        )
        assert usage.limits_of(session, key_id="key-nope", tenant_id="tn-nope") == (None, None)


def test_totals_since_by_key_and_by_tenant(db: Database) -> None:
    with db.session() as session:
        tenant, first, second = _setup(session)
        _use(session, tenant, first, NOON, 10, 5)
        _use(session, tenant, first, NOON - timedelta(hours=2), 1, 1)
        _use(session, tenant, second, NOON, 100)
        _use(session, tenant, None, NOON, 1000)  # a request with no key (the local CLI)
        since = NOON - timedelta(hours=1)
        key = usage.totals_since(session, kind="key", owner_id=first.id, since=since)
        assert key == usage.Totals(requests=1, tokens=15)
        whole = usage.totals_since(session, kind="tenant", owner_id=tenant.id, since=since)
        assert whole == usage.Totals(requests=3, tokens=1115)
        nothing = usage.totals_since(session, kind="key", owner_id="key-nope", since=since)
        assert nothing == usage.Totals()
        # ``since`` is included.
        exact = usage.totals_since(session, kind="key", owner_id=first.id, since=NOON)
        assert exact.requests == 1


def test_events_since_are_each_request_in_time_order(db: Database) -> None:
    with db.session() as session:
        tenant, key, _ = _setup(session)
        _use(session, tenant, key, NOON - timedelta(seconds=10), 3, 4)
        _use(session, tenant, key, NOON - timedelta(seconds=30), 1)
        _use(session, tenant, key, NOON - timedelta(minutes=5), 99)
        events = usage.events_since(
            session, kind="key", owner_id=key.id, since=NOON - timedelta(minutes=1)
        )
        assert events == [(NOON - timedelta(seconds=30), 1), (NOON - timedelta(seconds=10), 7)]
        assert all(when.tzinfo is not None for when, _ in events)


def test_jobs_and_upload_bytes_since(db: Database) -> None:
    with db.session() as session:
        tenant, _, _ = _setup(session)
        other = repository.create_tenant(session, name="globex")
        old = jobs.create_job(session, tenant_id=tenant.id, kind="training", spec={})
        old.created_at = NOON - timedelta(days=1)
        jobs.create_job(session, tenant_id=tenant.id, kind="evaluation", spec={})
        jobs.create_job(session, tenant_id=other.id, kind="training", spec={})
        digest = "0" * 64
        for size, owner in ((100, tenant.id), (20, tenant.id), (7, other.id)):
            files.create_file(
                session, tenant_id=owner, filename="f", purpose="training", size=size,
                digest=digest, details={},
            )  # fmt: skip
        session.flush()
        assert usage.jobs_since(session, tenant_id=tenant.id, since=NOON) == 1
        assert usage.jobs_since(session, tenant_id=tenant.id, since=NOON - timedelta(days=2)) == 2
        assert usage.upload_bytes_since(session, tenant_id=tenant.id, since=NOON) == 120
        assert usage.upload_bytes_since(session, tenant_id="tn-nope", since=NOON) == 0
        assert usage.jobs_since(session, tenant_id="tn-nope", since=NOON) == 0


def test_usage_by_day_groups_by_day_model_and_key(db: Database) -> None:
    with db.session() as session:
        tenant, first, second = _setup(session)
        other = repository.create_tenant(session, name="globex")
        day = NOON.date()
        _use(session, tenant, first, NOON, 10, 1)
        _use(session, tenant, first, NOON.replace(hour=23, minute=59, second=59), 20, 2)
        _use(session, tenant, first, NOON, 5, 0, model="other")
        _use(session, tenant, second, NOON + timedelta(days=1), 7, 7)
        _use(session, other, None, NOON, 1)
        rows = usage.usage_by_day(session, start=day, end=day, tenant_id=tenant.id)
        assert [(r.date, r.model, r.key_id, r.requests, r.prompt_tokens, r.completion_tokens)
                for r in rows] == [
            (day.isoformat(), "m", first.id, 2, 30, 3),
            (day.isoformat(), "other", first.id, 1, 5, 0),
        ]  # fmt: skip
        two_days = usage.usage_by_day(session, start=day, end=day + timedelta(days=1))
        assert [r.date for r in two_days][-1] == (day + timedelta(days=1)).isoformat()
        assert sum(r.requests for r in two_days) == 5  # every tenant without a filter
        by_key = usage.usage_by_day(
            session, start=day, end=day + timedelta(days=1), key_id=second.id
        )
        assert [(r.key_id, r.requests) for r in by_key] == [(second.id, 1)]
        assert usage.usage_by_day(session, start=date(2020, 1, 1), end=date(2020, 1, 2)) == []

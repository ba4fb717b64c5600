"""The registry's tables (aimaas/registry/tables.py): UTC-aware datetimes on SQLite, the
defaults rows get, the unique constraints, and ``columns``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from aimaas.registry.db import Database
from aimaas.registry.tables import (
    Job,
    Model,
    ModelVersion,
    Tenant,
    UTCDateTime,
    columns,
    utcnow,
)


def test_utcnow_is_aware_and_in_utc() -> None:
    now = utcnow()
    assert now.tzinfo is UTC
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)


def test_datetimes_come_back_aware_in_utc_whatever_went_in(db: Database) -> None:
    plus_two = datetime(2025, 1, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    naive = datetime(2025, 1, 1, 12, 0)
    with db.session() as session:
        session.add(Tenant(id="tn-a", name="a", created_at=plus_two))
        session.add(Tenant(id="tn-b", name="b", created_at=naive))  # taken as UTC
    with db.session() as session:
        a, b = session.get(Tenant, "tn-a"), session.get(Tenant, "tn-b")
        assert a is not None and b is not None
        assert a.created_at == b.created_at == datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
        assert a.created_at.tzinfo == UTC
        stored = session.execute(text("select created_at from tenants where id='tn-a'")).scalar()
    assert str(stored).startswith("2025-01-01 12:00:00")  # stored in UTC
    decorator = UTCDateTime()
    assert decorator.process_bind_param(None, None) is None
    assert decorator.process_result_value(None, None) is None


def test_rows_get_their_defaults(db: Database) -> None:
    with db.session() as session:
        session.add(Tenant(id="tn-1", name="acme"))
        session.flush()
        job = Job(id="job-1", tenant_id="tn-1", kind="training", status="queued")
        session.add(job)
        session.flush()
        assert job.spec == {} and job.attempts == 0 and job.cancel_requested is False
        assert job.result is None and job.created_at is not None


def test_a_model_name_is_unique_per_tenant_and_a_version_per_model(db: Database) -> None:
    with db.session() as session:
        session.add_all([Tenant(id="tn-1", name="acme"), Tenant(id="tn-2", name="globex")])
        session.flush()
        session.add_all(
            [
                Model(id="m-1", tenant_id="tn-1", name="iris", task="classification"),
                Model(id="m-2", tenant_id="tn-2", name="iris", task="classification"),
            ]
        )
        session.add(ModelVersion(id="mv-1", model_id="m-1", version=1, format="torch"))
    with pytest.raises(IntegrityError), db.session() as session:
        session.add(Model(id="m-3", tenant_id="tn-1", name="iris", task="classification"))
    with pytest.raises(IntegrityError), db.session() as session:
        session.add(ModelVersion(id="mv-2", model_id="m-1", version=1, format="torch"))


def test_columns_picks_the_named_columns() -> None:
    tenant = Tenant(id="tn-1", name="acme", limits={"jobs_per_day": 1})
    assert columns(tenant, ("id", "name")) == {"id": "tn-1", "name": "acme"}
    assert columns(tenant, ()) == {}
    with pytest.raises(AttributeError):
        columns(tenant, ("nope",))

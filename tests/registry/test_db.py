"""The SQL engine (aimaas/registry/db.py) on real SQLite files: the pragmas every connection
gets, migrations that are idempotent, and sessions that commit or roll back whole."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

from aimaas.registry.db import Database, make_engine
from aimaas.registry.tables import Base, Tenant


def test_sqlite_connections_get_wal_full_sync_and_foreign_keys(db: Database) -> None:
    with db.engine.connect() as connection:
        pragma = {
            name: connection.execute(text(f"PRAGMA {name}")).scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        }
    assert pragma == {
        "journal_mode": "wal",
        "synchronous": 2,
        "foreign_keys": 1,
        "busy_timeout": 10000,
    }


def test_make_engine_creates_the_folder_of_a_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "r.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            assert connection.execute(text("select 1")).scalar() == 1
        assert path.exists()
    finally:
        engine.dispose()
    memory = make_engine("sqlite:///:memory:")
    with memory.connect() as connection:
        assert connection.execute(text("select 2")).scalar() == 2
    memory.dispose()


def test_migrate_makes_every_table_and_is_a_no_op_the_second_time(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        assert inspect(database.engine).get_table_names() == []
        database.migrate()
        tables = set(inspect(database.engine).get_table_names())
        assert set(Base.metadata.tables) <= tables and "alembic_version" in tables
        with database.session() as session:
            session.add(Tenant(id="tn-1", name="acme"))
        database.migrate()  # up to date: nothing is lost
        with database.session() as session:
            assert session.scalars(select(Tenant.name)).all() == ["acme"]
    finally:
        database.dispose()


def test_a_session_commits_on_success_and_rolls_back_on_an_exception(db: Database) -> None:
    with db.session() as session:
        session.add(Tenant(id="tn-1", name="kept"))
    with pytest.raises(RuntimeError), db.session() as session:
        session.add(Tenant(id="tn-2", name="dropped"))
        session.flush()
        raise RuntimeError("boom")
    with db.session() as session:
        assert session.scalars(select(Tenant.name)).all() == ["kept"]
        # Objects stay readable after the commit (expire_on_commit=False).
    with db.session() as session:
        row = session.get(Tenant, "tn-1")
    assert row is not None and row.name == "kept"


def test_foreign_keys_are_enforced(db: Database) -> None:
    from sqlalchemy.exc import IntegrityError

    from aimaas.registry.tables import ApiKey

    with pytest.raises(IntegrityError), db.session() as session:
        session.add(
            ApiKey(id="k", tenant_id="tn-none", prefix="p", key_hash="h" * 64, scopes=["infer"])
        )
    assert db.url.startswith("sqlite:///")

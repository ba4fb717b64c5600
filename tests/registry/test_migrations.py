"""Alembic migrations: from an empty database, and again on an existing one."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text

from aimaas.registry.db import Database
from aimaas.registry.tables import Base

EXPECTED_TABLES = {
    "tenants",
    "api_keys",
    "models",
    "model_versions",
    "model_aliases",
    "files",
    "jobs",
    "usage",
    "job_events",
    "data_keys",
    "audit_log",
}


def test_migrate_empty_then_rerun(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'r.db'}")
    db.migrate()
    tables = set(inspect(db.engine).get_table_names())
    assert tables >= EXPECTED_TABLES and "alembic_version" in tables
    with db.session() as session:
        session.execute(
            text("INSERT INTO tenants (id, name, created_at) VALUES ('t1', 'a', '2026-01-01')")
        )
    db.migrate()  # second run: nothing to do, nothing lost
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM tenants")).scalar() == 1
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0005"
    db.dispose()


def test_migrations_match_the_tables(tmp_path: Path) -> None:
    """The tables the code declares are exactly what the migrations build."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    db = Database(f"sqlite:///{tmp_path / 'r.db'}")
    db.migrate()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    db.dispose()


def test_sqlite_runs_with_wal_foreign_keys_and_full_sync(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'r.db'}")
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    db.dispose()

"""The registry on a real PostgreSQL server: migrations and the key life cycle."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import inspect

from aimaas.registry import repository
from aimaas.registry.db import Database
from aimaas.security import keys
from tests.postgres import postgres_server


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


def test_migrations_and_keys_on_postgres(pg_url: str) -> None:
    db = Database(pg_url)
    db.migrate()
    db.migrate()
    assert {"tenants", "api_keys", "models", "usage"} <= set(inspect(db.engine).get_table_names())
    with db.session() as session:
        tenant = repository.create_tenant(session, name="acme")
        _, key = keys.issue_key(session, tenant=tenant, scopes=["infer"])
    with db.session() as session:
        row = keys.find_active_key(session, plaintext=key)
        assert row is not None and row.scopes == ["infer"]
        assert row.created_at.tzinfo is not None
        repository.revoke_key(session, key_id=row.id)
    with db.session() as session:
        assert keys.find_active_key(session, plaintext=key) is None
    db.dispose()

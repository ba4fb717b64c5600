"""What a registered version serves as (``spec_from_rows``), and the spec cache: a read per
reference until ``forget``, a new version served from the next request after it."""

from __future__ import annotations

import asyncio

import pytest

from aimaas.errors import InvalidInput, NotFound
from aimaas.registry import repository
from aimaas.registry.db import Database
from aimaas.runtime.catalog import SpecCache, find_spec


def _register(db: Database, tenant: str, version_format: str, **details: object) -> None:
    with db.session() as session:
        repository.register_model(
            session, tenant_id=tenant, name="m", task="chat", format=version_format,
            details={"capabilities": ["chat"], "source": {"path": "/x"}, **details},
        )  # fmt: skip


@pytest.fixture
def tenant(db: Database) -> str:
    with db.session() as session:
        return repository.create_tenant(session, name="acme").id


def test_a_gguf_version_is_served_with_its_options(db: Database, tenant: str) -> None:
    _register(db, tenant, "gguf", options={"parallel": 2}, license="Apache-2.0")
    spec = find_spec(db, tenant_id=tenant, ref="m")
    assert spec.name == "m" and spec.version == 1 and spec.tenant_id == tenant
    assert spec.capabilities == frozenset({"chat"}) and spec.source == {"path": "/x"}
    assert spec.options.parallel == 2 and spec.license == "Apache-2.0"


def test_a_format_aimaas_cannot_serve_is_a_400(db: Database, tenant: str) -> None:
    _register(db, tenant, "pickle")
    with pytest.raises(InvalidInput) as refused:
        find_spec(db, tenant_id=tenant, ref="m")
    assert refused.value.param == "model" and "pickle" in refused.value.message


def test_the_cache_serves_a_new_version_after_forget(db: Database, tenant: str) -> None:
    _register(db, tenant, "gguf")
    cache = SpecCache(db, ttl_seconds=3600)

    async def version() -> int:
        return (await cache.get(tenant, "m")).version

    assert asyncio.run(version()) == 1
    _register(db, tenant, "gguf")
    assert asyncio.run(version()) == 1  # cached
    cache.forget()
    assert asyncio.run(version()) == 2
    with pytest.raises(NotFound):
        asyncio.run(cache.get(tenant, "nothing"))

"""The Authenticator (aimaas/security/authenticator.py): a key to its Principal, cached for
``ttl_seconds`` on a clock the test moves by hand; expiry checked on every hit, revocations
by this process at once (``forget_all``), by another within the cache time."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from aimaas.registry import repository
from aimaas.registry.db import Database
from aimaas.security import admin, authenticator
from aimaas.security.authenticator import Authenticator
from aimaas.security.keys import generate_key
from aimaas.security.principal import Principal
from tests.clock import ManualClock
from tests.conftest import Api


def _issue(db: Database, tenant: str = "acme", **extra: object) -> tuple[str, str]:
    """A new key of ``tenant`` (made if needed): its id and plaintext."""
    if tenant not in {t.name for t in admin.list_tenants(db).data}:
        admin.create_tenant(db, name=tenant)
    created = admin.create_key(db, tenant=tenant, scopes=["infer", "models:read"], **extra)  # type: ignore[arg-type]
    return created.id, created.key


def _revoke_outside(db: Database, key_id: str) -> None:
    with db.session() as session:  # as `aimaas keys revoke` does, from another process
        repository.revoke_key(session, key_id=key_id)


def test_lookup_finds_the_principal_and_caches_it(db: Database) -> None:
    clock = ManualClock()
    auth = Authenticator(db, ttl_seconds=30, clock=clock)
    key_id, key = _issue(db)
    assert auth.cached(key) is None  # nothing read yet
    principal = auth.lookup(key)
    assert principal is not None
    assert principal.key_id == key_id and principal.tenant_name == "acme"
    assert principal.scopes == frozenset({"infer", "models:read"})
    assert principal.tenant_id == admin.list_tenants(db).data[0].id
    _revoke_outside(db, key_id)
    assert auth.cached(key) == principal  # the cache answers without the registry
    assert auth.lookup(key) is None  # the registry does know


def test_an_unknown_key_is_none_and_not_cached(db: Database) -> None:
    auth = Authenticator(db, ttl_seconds=30, clock=ManualClock())
    unknown = generate_key()
    assert auth.lookup(unknown) is None
    assert auth.cached(unknown) is None
    assert asyncio.run(auth.principal("not even a key")) is None


def test_the_cache_entry_lasts_ttl_seconds(db: Database) -> None:
    clock = ManualClock()
    auth = Authenticator(db, ttl_seconds=10, clock=clock)
    _, key = _issue(db)
    assert auth.lookup(key) is not None
    clock.advance(10.0)
    assert auth.cached(key) is not None  # at the limit it is still fresh
    clock.advance(0.01)
    assert auth.cached(key) is None


def test_no_cache_with_a_zero_ttl(db: Database) -> None:
    auth = Authenticator(db, ttl_seconds=0, clock=ManualClock())
    key_id, key = _issue(db)
    assert auth.lookup(key) is not None
    assert auth.cached(key) is None
    _revoke_outside(db, key_id)
    assert asyncio.run(auth.principal(key)) is None  # every request reads the registry


def test_expiry_is_checked_on_every_cache_hit(db: Database) -> None:
    clock = ManualClock()
    auth = Authenticator(db, ttl_seconds=3600, clock=clock)
    _, key = _issue(db, expires_at=clock.now() + timedelta(seconds=5))
    assert auth.lookup(key) is not None
    clock.advance(4.0)
    assert auth.cached(key) is not None
    clock.advance(1.0)  # exactly at its expiry: no longer valid
    assert auth.cached(key) is None
    assert auth.lookup(key) is None  # nor in the registry at this clock's time


def test_forget_all_drops_every_entry(db: Database) -> None:
    auth = Authenticator(db, ttl_seconds=30, clock=ManualClock())
    first_id, first = _issue(db)
    _, second = _issue(db, "globex")
    assert auth.lookup(first) is not None and auth.lookup(second) is not None
    _revoke_outside(db, first_id)
    auth.forget_all()
    assert auth.cached(first) is None and auth.cached(second) is None
    assert asyncio.run(auth.principal(first)) is None
    assert asyncio.run(auth.principal(second)) is not None


def test_principal_reads_once_then_answers_from_the_cache(db: Database) -> None:
    auth = Authenticator(db, ttl_seconds=30, clock=ManualClock())
    key_id, key = _issue(db)

    async def twice() -> tuple[Principal | None, Principal | None]:
        first = await auth.principal(key)
        _revoke_outside(db, key_id)
        return first, await auth.principal(key)

    first, second = asyncio.run(twice())
    assert first is not None and first == second


def test_the_cache_holds_at_most_max_entries(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(authenticator, "MAX_ENTRIES", 2)
    auth = Authenticator(db, ttl_seconds=30, clock=ManualClock())
    keys = [_issue(db)[1] for _ in range(3)]
    for key in keys:
        assert auth.lookup(key) is not None
    # The oldest entry made room for the newest.
    assert [auth.cached(key) is not None for key in keys] == [False, True, True]


# Through the app: the Authenticator the server holds, on a clock the test moves.


def _manual_clock(api: Api) -> ManualClock:
    clock = ManualClock()
    api.client.app.state.services.authenticator.clock = clock  # type: ignore[attr-defined]
    return clock


def test_expired_key_is_401_even_while_cached(api: Api) -> None:
    clock = _manual_clock(api)
    api.create_tenant("acme")
    soon = (clock.now() + timedelta(seconds=1.5)).isoformat()
    key = str(api.create_key("acme", ["models:read"], expires_at=soon)["key"])
    assert api.client.get("/v1/models", headers=api.auth(key)).status_code == 200
    clock.advance(1.0)
    assert api.client.get("/v1/models", headers=api.auth(key)).status_code == 200
    clock.advance(1.0)  # past its expiry, within the cache's lifetime
    assert api.settings.security.key_cache_seconds > 2.0
    assert api.client.get("/v1/models", headers=api.auth(key)).status_code == 401


def test_revocation_by_another_process_holds_within_the_cache_time(api: Api) -> None:
    clock = _manual_clock(api)
    api.create_tenant("acme")
    key = api.create_key("acme", ["models:read"])
    assert api.client.get("/v1/models", headers=api.auth(str(key["key"]))).status_code == 200
    services = api.client.app.state.services  # type: ignore[attr-defined]
    with services.db.session() as session:  # as `aimaas keys revoke` does, from outside
        repository.revoke_key(session, key_id=str(key["id"]))
    ttl = api.settings.security.key_cache_seconds
    clock.advance(ttl * 0.9)  # this process has not heard: the cached entry still answers
    assert api.client.get("/v1/models", headers=api.auth(str(key["key"]))).status_code == 200
    clock.advance(ttl * 0.2)
    assert api.client.get("/v1/models", headers=api.auth(str(key["key"]))).status_code == 401

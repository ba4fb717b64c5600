"""Tenants and keys as the admin API and the local CLI answer them: the secret is shown
once at creation, listings carry prefixes only, a revoked key stops working."""

from __future__ import annotations

import pytest

from aimaas.errors import NotFound
from aimaas.registry.db import Database
from aimaas.security import admin
from aimaas.security.authenticator import Authenticator


def test_a_key_is_shown_once_and_listed_by_its_prefix(db: Database) -> None:
    tenant = admin.create_tenant(db, name="acme")
    created = admin.create_key(db, tenant="acme", scopes=["infer"], name="ci")
    assert created.tenant == tenant.id and created.tenant_name == "acme"
    assert created.key.startswith(created.prefix) and created.scopes == ["infer"]
    listed = admin.list_keys(db).data
    assert [k.id for k in listed] == [created.id] and listed[0].name == "ci"
    assert created.key not in listed[0].model_dump_json()
    assert [t.name for t in admin.list_tenants(db).data] == ["acme"]


def test_a_revoked_key_stops_working(db: Database) -> None:
    admin.create_tenant(db, name="acme")
    created = admin.create_key(db, tenant="acme", scopes=["infer"])
    authenticator = Authenticator(db, ttl_seconds=0)
    assert authenticator.lookup(created.key) is not None
    revoked = admin.revoke_key(db, key_id=created.id)
    assert revoked.revoked_at is not None and authenticator.lookup(created.key) is None


def test_a_key_for_a_tenant_that_does_not_exist_is_a_404(db: Database) -> None:
    with pytest.raises(NotFound) as missing:
        admin.create_key(db, tenant="nobody", scopes=["infer"])
    assert missing.value.param == "tenant"

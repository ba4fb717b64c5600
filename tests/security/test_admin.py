"""Administration of tenants and keys (aimaas/security/admin.py), answered in wire schemas:
what the admin routes and the CLI's local backend both call."""

from __future__ import annotations

from datetime import timedelta

import pytest

from aimaas.errors import Conflict, InvalidInput, NotFound
from aimaas.registry.db import Database
from aimaas.registry.tables import utcnow
from aimaas.security import admin
from aimaas.security.keys import hash_key, looks_like_key


def test_tenants_are_created_and_listed_in_order(db: Database) -> None:
    assert admin.list_tenants(db).data == []
    acme = admin.create_tenant(db, name="acme")
    globex = admin.create_tenant(db, name="globex")
    assert acme.name == "acme" and acme.id.startswith("tn") and acme.created_at is not None
    listed = admin.list_tenants(db)
    assert listed.object == "list"
    assert [t.name for t in listed.data] == ["acme", "globex"]
    assert [t.id for t in listed.data] == [acme.id, globex.id]


def test_a_tenant_name_is_unique_and_checked(db: Database) -> None:
    admin.create_tenant(db, name="acme")
    with pytest.raises(Conflict) as conflict:
        admin.create_tenant(db, name="acme")
    assert conflict.value.param == "name" and "already exists" in str(conflict.value)
    with pytest.raises(InvalidInput) as bad:
        admin.create_tenant(db, name="../etc")
    assert bad.value.param == "name"
    assert [t.name for t in admin.list_tenants(db).data] == ["acme"]


def test_a_created_key_is_shown_once_with_its_tenant(db: Database) -> None:
    tenant = admin.create_tenant(db, name="acme")
    expires = utcnow() + timedelta(days=1)
    by_name = admin.create_key(db, tenant="acme", scopes=["infer"], name="ci", expires_at=expires)
    assert looks_like_key(by_name.key) and by_name.key.startswith(by_name.prefix)
    assert by_name.tenant == tenant.id and by_name.tenant_name == "acme"
    assert by_name.scopes == ["infer"] and by_name.name == "ci"
    assert by_name.expires_at is not None and by_name.revoked_at is None
    by_id = admin.create_key(db, tenant=tenant.id, scopes=["train"])
    assert by_id.tenant_name == "acme" and by_id.name is None and by_id.expires_at is None
    listed = admin.list_keys(db)
    assert [k.id for k in listed.data] == [by_name.id, by_id.id]
    assert all(not hasattr(k, "key") for k in listed.data)  # the secret is not listed
    assert listed.data[0].model_dump() == {
        name: value for name, value in by_name.model_dump().items() if name != "key"
    }
    assert hash_key(by_name.key) not in listed.model_dump_json()


def test_a_key_for_a_missing_tenant_or_with_bad_scopes_is_refused(db: Database) -> None:
    with pytest.raises(NotFound) as missing:
        admin.create_key(db, tenant="nope", scopes=["infer"])
    assert missing.value.param == "tenant"
    admin.create_tenant(db, name="acme")
    with pytest.raises(InvalidInput, match="Unknown scope 'root'"):
        admin.create_key(db, tenant="acme", scopes=["root"])
    assert admin.list_keys(db).data == []


def test_revoking_a_key_keeps_its_first_revocation_time(db: Database) -> None:
    admin.create_tenant(db, name="acme")
    created = admin.create_key(db, tenant="acme", scopes=["infer"])
    revoked = admin.revoke_key(db, key_id=created.id)
    assert revoked.id == created.id and revoked.tenant_name == "acme"
    assert revoked.revoked_at is not None
    again = admin.revoke_key(db, key_id=created.id)
    assert again.revoked_at == revoked.revoked_at
    assert admin.list_keys(db).data[0].revoked_at == revoked.revoked_at
    with pytest.raises(NotFound) as missing:
        admin.revoke_key(db, key_id="key-nope")
    assert missing.value.param == "key_id"

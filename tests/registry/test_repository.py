"""Registry operations (aimaas/registry/repository.py) on a real SQLite registry: names,
tenants, keys, models and versions (own ones shadowing shared ones), the ``name:N`` and
``name@alias`` references, and usage rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from aimaas.errors import Conflict, InvalidInput, NotFound
from aimaas.registry import repository
from aimaas.registry.db import Database
from aimaas.registry.tables import ModelAlias, UsageRecord, utcnow
from aimaas.security.keys import hash_key


def test_validate_name_accepts_the_rule_and_names_the_param() -> None:
    for good in ("a", "A1", "iris-v2.1_final", "x" * 64):
        assert repository.validate_name(good, param="name") == good
    for bad in ("", "-a", ".a", "a b", "a/b", "x" * 65, "ü", "a\n"):
        with pytest.raises(InvalidInput) as raised:
            repository.validate_name(bad, param="alias")
        assert raised.value.param == "alias", bad
        assert "'alias' must be 1-64 characters" in str(raised.value)


def test_tenants_by_id_or_name(db: Database) -> None:
    with db.session() as session:
        acme = repository.create_tenant(session, name="acme")
        assert acme.id.startswith("tn-")
        assert repository.find_tenant(session, ref="acme") is acme
        assert repository.find_tenant(session, ref=acme.id) is acme
        with pytest.raises(Conflict) as conflict:
            repository.create_tenant(session, name="acme")
        assert conflict.value.param == "name"
        with pytest.raises(NotFound) as missing:
            repository.find_tenant(session, ref="nope")
        assert missing.value.param == "tenant" and "aimaas tenants create nope" in str(
            missing.value
        )
        repository.create_tenant(session, name="globex")
        assert [t.name for t in repository.list_tenants(session)] == ["acme", "globex"]


def test_keys_are_added_listed_found_by_hash_and_revoked(db: Database) -> None:
    with db.session() as session:
        acme = repository.create_tenant(session, name="acme")
        globex = repository.create_tenant(session, name="globex")
        a = repository.add_key(
            session, tenant=acme, prefix="sk-a", key_hash=hash_key("a"), scopes=["infer"]
        )
        repository.add_key(
            session, tenant=globex, prefix="sk-g", key_hash=hash_key("g"), scopes=["admin"]
        )
        assert [k.id for k in repository.list_keys(session, tenant_id=acme.id)] == [a.id]
        assert len(repository.list_keys(session)) == 2
        found = repository.find_active_key(session, key_hash=hash_key("a"))
        assert found is not None and found.id == a.id
        assert repository.has_active_key_with_scope(session, scope="admin")
        assert not repository.has_active_key_with_scope(session, scope="train")
        with pytest.raises(NotFound):  # another tenant's key is not found for it
            repository.revoke_key(session, key_id=a.id, tenant_id=globex.id)
        revoked = repository.revoke_key(session, key_id=a.id, tenant_id=acme.id)
        assert revoked.revoked_at is not None
        assert repository.find_active_key(session, key_hash=hash_key("a")) is None
        with pytest.raises(NotFound) as missing:
            repository.revoke_key(session, key_id="key-nope")
        assert missing.value.param == "key_id"


def test_an_expired_key_is_not_active(db: Database) -> None:
    with db.session() as session:
        acme = repository.create_tenant(session, name="acme")
        soon = utcnow() + timedelta(hours=1)
        repository.add_key(
            session,
            tenant=acme,
            prefix="sk-a",
            key_hash=hash_key("a"),
            scopes=["admin"],
            expires_at=soon,
        )
        assert repository.find_active_key(session, key_hash=hash_key("a")) is not None
        later = soon + timedelta(seconds=1)
        assert repository.find_active_key(session, key_hash=hash_key("a"), now=later) is None


def test_register_model_adds_versions_and_own_models_shadow_shared_ones(db: Database) -> None:
    with db.session() as session:
        acme = repository.create_tenant(session, name="acme")
        globex = repository.create_tenant(session, name="globex")
        shared, v1 = repository.register_model(
            session, tenant_id=None, name="iris", task="classification", format="onnx", details={}
        )
        own, own1 = repository.register_model(
            session, tenant_id=acme.id, name="iris", task="classification", format="torch",
            details={"a": 1}, version_id="mv-chosen",
        )  # fmt: skip
        same, own2 = repository.register_model(
            session, tenant_id=acme.id, name="iris", task="classification", format="torch",
            details={"a": 2},
        )  # fmt: skip
        assert same.id == own.id and (own1.version, own2.version) == (1, 2)
        assert own1.id == "mv-chosen" and v1.version == 1 and shared.tenant_id is None
        assert repository.get_model(session, tenant_id=acme.id, name="iris").id == own.id
        assert repository.get_model(session, tenant_id=globex.id, name="iris").id == shared.id
        assert {m.id for m in repository.list_models(session, tenant_id=globex.id)} == {shared.id}
        assert {m.id for m in repository.list_models(session, tenant_id=acme.id)} == {
            shared.id,
            own.id,
        }
        assert len(repository.list_all_models(session)) == 2
        with pytest.raises(NotFound) as missing:
            repository.get_model(session, tenant_id=acme.id, name="nope")
        assert missing.value.param == "model"
        with pytest.raises(InvalidInput):
            repository.register_model(
                session, tenant_id=acme.id, name="bad name", task="t", format="f", details={}
            )


def test_resolve_version_by_number_alias_and_bare_name(db: Database) -> None:
    with db.session() as session:
        acme = repository.create_tenant(session, name="acme")
        tid = acme.id
        versions = [
            repository.register_model(
                session, tenant_id=tid, name="m", task="t", format="f", details={"n": n}
            )[1]
            for n in range(3)
        ]
        assert repository.resolve_version(session, tenant_id=tid, ref="m")[1].id == versions[2].id
        assert repository.resolve_version(session, tenant_id=tid, ref="m:1")[1].id == versions[0].id
        model = repository.get_model(session, tenant_id=tid, name="m")
        session.add(ModelAlias(model_id=model.id, alias="production", version_id=versions[1].id))
        session.add(ModelAlias(model_id=model.id, alias="canary", version_id=versions[0].id))
        session.flush()
        # A bare name means production once it is set.
        assert repository.resolve_version(session, tenant_id=tid, ref="m")[1].id == versions[1].id
        assert (
            repository.resolve_version(session, tenant_id=tid, ref="m@canary")[1].id
            == versions[0].id
        )
        for ref, error in (("m:x", InvalidInput), ("m:9", NotFound), ("m@nope", NotFound)):
            with pytest.raises(error) as raised:
                repository.resolve_version(session, tenant_id=tid, ref=ref)
            assert raised.value.param == "model", ref


def test_ensure_shared_model_is_idempotent_and_adds_a_version_on_change(db: Database) -> None:
    shared = repository.SharedModel(name="emb", task="embedding", format="st", details={"d": 1})
    with db.session() as session:
        repository.ensure_shared_model(session, shared)
        repository.ensure_shared_model(session, shared)
        model = repository.list_all_models(session)[0]
        assert model.tenant_id is None and model.task == "embedding"
        changed = repository.SharedModel(
            name="emb", task="embedding", format="st", details={"d": 2}
        )
        repository.ensure_shared_model(session, changed)
        tenant = repository.create_tenant(session, name="acme")
        _, newest = repository.resolve_version(session, tenant_id=tenant.id, ref="emb")
        assert newest.version == 2 and newest.details == {"d": 2}


def test_record_usage_inserts_rows(db: Database) -> None:
    with db.session() as session:
        tenant = repository.create_tenant(session, name="acme")
        now = utcnow()
        rows = [
            repository.RequestUsage(
                tenant_id=tenant.id,
                key_id=None,
                model="m",
                endpoint="/v1/chat",
                prompt_tokens=n,
                completion_tokens=2 * n,
                created_at=now,
            )
            for n in (1, 2)
        ]
        repository.record_usage(session, rows)
    with db.session() as session:
        stored = session.scalars(select(UsageRecord).order_by(UsageRecord.id)).all()
        assert [(r.prompt_tokens, r.completion_tokens) for r in stored] == [(1, 2), (2, 4)]
        assert repository.new_version_id().startswith("mv-")

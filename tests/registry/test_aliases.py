"""Model aliases (aimaas/registry/aliases.py) on a real registry: own models only, versions
by number, setting, moving, listing and deleting aliases."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from aimaas.errors import Forbidden, InvalidInput, NotFound
from aimaas.registry import aliases, repository
from aimaas.registry.db import Database
from aimaas.registry.tables import Model, ModelVersion


def _model(session: Session, tenant_id: str | None, versions: int) -> list[ModelVersion]:
    return [
        repository.register_model(
            session, tenant_id=tenant_id, name="m", task="t", format="f", details={"n": n}
        )[1]
        for n in range(versions)
    ]


def _tenant(session: Session) -> str:
    return repository.create_tenant(session, name="acme").id


def test_own_model_refuses_a_shared_one_and_a_missing_one(db: Database) -> None:
    with db.session() as session:
        tid = _tenant(session)
        _model(session, None, 1)
        with pytest.raises(Forbidden) as shared:
            aliases.own_model(session, tenant_id=tid, name="m")
        assert shared.value.param == "model" and "shared by the server" in str(shared.value)
        with pytest.raises(NotFound):
            aliases.own_model(session, tenant_id=tid, name="nope")
        _model(session, tid, 1)  # the tenant's own model of that name shadows the shared one
        assert aliases.own_model(session, tenant_id=tid, name="m").tenant_id == tid


def test_get_version_by_number(db: Database) -> None:
    with db.session() as session:
        tid = _tenant(session)
        versions = _model(session, tid, 2)
        model = aliases.own_model(session, tenant_id=tid, name="m")
        assert aliases.get_version(session, model=model, version=2).id == versions[1].id
        with pytest.raises(NotFound) as missing:
            aliases.get_version(session, model=model, version=3)
        assert missing.value.param == "version" and "no version 3" in str(missing.value)
        assert [v.version for v in aliases.versions_by_id(session, model=model)] == [1, 2]


def test_set_move_list_and_delete_aliases(db: Database) -> None:
    with db.session() as session:
        tid = _tenant(session)
        v1, v2 = _model(session, tid, 2)
        model = aliases.own_model(session, tenant_id=tid, name="m")
        assert aliases.current(session, model=model, alias="production") is None
        first = aliases.set_alias(session, model=model, alias="production", version=v1)
        set_at = first.updated_at
        aliases.set_alias(session, model=model, alias="canary", version=v2)
        listed = aliases.list_aliases(session, model=model)
        assert [(a.alias, v.version) for a, v in listed] == [("canary", 2), ("production", 1)]
        moved = aliases.set_alias(session, model=model, alias="production", version=v2)
        assert moved.updated_at >= set_at
        current = aliases.current(session, model=model, alias="production")
        assert current is not None and current.id == v2.id
        aliases.delete_alias(session, model=model, alias="canary")
        assert [a.alias for a, _ in aliases.list_aliases(session, model=model)] == ["production"]
        with pytest.raises(NotFound) as missing:
            aliases.delete_alias(session, model=model, alias="canary")
        assert missing.value.param == "alias"


def test_an_alias_name_is_checked(db: Database) -> None:
    with db.session() as session:
        tid = _tenant(session)
        [v1] = _model(session, tid, 1)
        model = session.get(Model, v1.model_id)
        assert model is not None
        for bad in ("", "a b", "@prod", "x" * 65):
            with pytest.raises(InvalidInput) as raised:
                aliases.set_alias(session, model=model, alias=bad, version=v1)
            assert raised.value.param == "alias"
        assert aliases.list_aliases(session, model=model) == []

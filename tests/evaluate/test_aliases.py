"""The alias service: list, set (through the gate when asked) and delete a model's
aliases; every change is served at once, a refused one changes nothing."""

from __future__ import annotations

import pytest

from aimaas.errors import Conflict, Forbidden, NotFound
from aimaas.evaluate.aliases import AliasService
from aimaas.protocol.aliases import AliasSet, Requirement
from aimaas.registry import repository
from aimaas.registry.db import Database


@pytest.fixture
def tenant(db: Database) -> str:
    with db.session() as session:
        tenant = repository.create_tenant(session, name="acme").id
        for _ in range(2):
            repository.register_model(
                session, tenant_id=tenant, name="m", task="classification",
                format="aimaas-torch", details={},
            )  # fmt: skip
        repository.register_model(
            session, tenant_id=None, name="shared", task="chat", format="gguf", details={}
        )
    return tenant


def test_set_list_and_delete_serve_each_change_at_once(db: Database, tenant: str) -> None:
    changes: list[int] = []
    service = AliasService(db, on_change=lambda: changes.append(1))
    moved = service.set(tenant, "m", "production", AliasSet(version=2))
    assert (moved.model, moved.alias, moved.version, moved.check) == ("m", "production", 2, None)
    assert [a.alias for a in service.list(tenant, "m").data] == ["production"]
    assert service.delete(tenant, "m", "production").deleted
    assert service.list(tenant, "m").data == [] and changes == [1, 1]
    with pytest.raises(NotFound) as gone:
        service.delete(tenant, "m", "production")
    assert gone.value.param == "alias"


def test_a_refused_move_changes_nothing(db: Database, tenant: str) -> None:
    changes: list[int] = []
    service = AliasService(db, on_change=lambda: changes.append(1))
    gated = AliasSet(version=1, require=Requirement(metric="accuracy", min=0.5))
    with pytest.raises(Conflict, match="has no succeeded evaluation"):
        service.set(tenant, "m", "production", gated)
    with pytest.raises(NotFound) as missing:
        service.set(tenant, "m", "production", AliasSet(version=9))
    assert missing.value.param == "version"
    with pytest.raises(Forbidden):
        service.set(tenant, "shared", "production", AliasSet(version=1))
    assert service.list(tenant, "m").data == [] and changes == []

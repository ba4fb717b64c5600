"""runtime/model_cards.py: which models a tenant sees, and who owns each."""

from __future__ import annotations

import pytest

from aimaas.errors import NotFound
from aimaas.registry import repository
from aimaas.registry.db import Database
from aimaas.runtime import model_cards


def _model(db: Database, name: str, tenant_id: str | None) -> None:
    with db.session() as session:
        repository.register_model(
            session, tenant_id=tenant_id, name=name, task="chat", format="gguf", details={}
        )


def test_a_tenant_sees_its_own_models_and_the_shared_ones(db: Database) -> None:
    with db.session() as session:
        acme = repository.create_tenant(session, name="acme").id
        globex = repository.create_tenant(session, name="globex").id
    _model(db, "shared", None)
    _model(db, "mine", acme)
    _model(db, "theirs", globex)
    listed = model_cards.list_cards(db, tenant_id=acme, tenant_name="acme")
    assert {(c.id, c.owned_by) for c in listed.data} == {("shared", "aimaas"), ("mine", "acme")}
    card = model_cards.get_card(db, tenant_id=acme, tenant_name="acme", name="mine")
    assert card.object == "model" and card.owned_by == "acme"
    with pytest.raises(NotFound, match="'theirs' not found"):
        model_cards.get_card(db, tenant_id=acme, tenant_name="acme", name="theirs")
    every = model_cards.list_all_cards(db)
    assert {(c.id, c.owned_by) for c in every.data} == {
        ("shared", "aimaas"),
        ("mine", "acme"),
        ("theirs", "globex"),
    }

"""OpenAI's model objects: the models a tenant may use, as ``/v1/models`` and
``aimaas models list`` show them. A shared model is owned by ``aimaas``."""

from __future__ import annotations

from aimaas.protocol.openai_models import ModelCard, ModelCardList
from aimaas.registry import repository
from aimaas.registry.db import Database
from aimaas.registry.tables import Model

SHARED_OWNER = "aimaas"


def model_card(model: Model, tenant_name: str) -> ModelCard:
    """``tenant_name``: the name of the tenant that owns ``model``, if one does."""
    return ModelCard(
        id=model.name,
        created=int(model.created_at.timestamp()),
        owned_by=tenant_name if model.tenant_id else SHARED_OWNER,
    )


def list_cards(db: Database, *, tenant_id: str, tenant_name: str) -> ModelCardList:
    """The tenant's own models and the shared ones."""
    with db.session() as session:
        models = repository.list_models(session, tenant_id=tenant_id)
        return ModelCardList(data=[model_card(m, tenant_name) for m in models])


def get_card(db: Database, *, tenant_id: str, tenant_name: str, name: str) -> ModelCard:
    with db.session() as session:
        model = repository.get_model(session, tenant_id=tenant_id, name=name)
        return model_card(model, tenant_name)


def list_all_cards(db: Database) -> ModelCardList:
    """Every model of every tenant (operators' view, for the local CLI)."""
    with db.session() as session:
        names = {t.id: t.name for t in repository.list_tenants(session)}
        models = repository.list_all_models(session)
        return ModelCardList(
            data=[model_card(m, names.get(m.tenant_id or "", SHARED_OWNER)) for m in models]
        )

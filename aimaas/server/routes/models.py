"""OpenAI's ``/v1/models``: the models a key may use."""

from __future__ import annotations

from aimaas.protocol.openai_models import ModelCard, ModelCardList
from aimaas.registry import repository
from aimaas.registry.tables import Model
from aimaas.server.deps import ModelsReader, ServicesDep
from aimaas.server.routes import new_router

router = new_router(prefix="/v1", tags=["models"])


def _card(model: Model, tenant_name: str) -> ModelCard:
    return ModelCard(
        id=model.name,
        created=int(model.created_at.timestamp()),
        owned_by=tenant_name if model.tenant_id else "aimaas",
    )


@router.get("/models")
def list_models(services: ServicesDep, caller: ModelsReader) -> ModelCardList:
    with services.db.session() as session:
        models = repository.list_models(session, tenant_id=caller.tenant_id)
        return ModelCardList(data=[_card(m, caller.tenant_name) for m in models])


@router.get("/models/{model_id}")
def get_model(model_id: str, services: ServicesDep, caller: ModelsReader) -> ModelCard:
    with services.db.session() as session:
        model = repository.get_model(session, tenant_id=caller.tenant_id, name=model_id)
        return _card(model, caller.tenant_name)

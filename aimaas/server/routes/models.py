"""``/v1/models``: OpenAI's model list and model object, registering a version from uploaded
files (scope ``models:write``) and KServe v1-style ``/v1/models/{name}/predict``.

(A model's evaluations and aliases are in evaluations.py.)
"""

from __future__ import annotations

from fastapi import Request, status
from starlette.concurrency import run_in_threadpool

from aimaas.protocol.admin import ModelRegistered
from aimaas.protocol.kserve_v1 import PredictRequest, PredictResponse
from aimaas.protocol.openai_models import ModelCard, ModelCardList
from aimaas.protocol.uploads import UploadedModelRegister
from aimaas.runtime import model_cards
from aimaas.runtime.uploaded_models import register_uploaded_model
from aimaas.server.audit import Audit
from aimaas.server.deps import (
    DatabaseDep,
    Inference,
    ModelsReader,
    ModelsWriter,
    PredictionsDep,
    SpecsDep,
    StoreDep,
)
from aimaas.server.routes import new_router
from aimaas.server.streaming import unless_disconnected

router = new_router(prefix="/v1/models")


@router.get("", tags=["models"])
def list_models(db: DatabaseDep, caller: ModelsReader) -> ModelCardList:
    return model_cards.list_cards(db, tenant_id=caller.tenant_id, tenant_name=caller.tenant_name)


@router.get("/{model_id}", tags=["models"])
def get_model(model_id: str, db: DatabaseDep, caller: ModelsReader) -> ModelCard:
    return model_cards.get_card(
        db, tenant_id=caller.tenant_id, tenant_name=caller.tenant_name, name=model_id
    )


@router.post("", status_code=status.HTTP_201_CREATED, tags=["models"])
async def register_uploaded(
    body: UploadedModelRegister,
    db: DatabaseDep,
    store: StoreDep,
    specs: SpecsDep,
    caller: ModelsWriter,
    audit: Audit,
) -> ModelRegistered:
    """A GGUF file (served by llama.cpp), or safetensors or ONNX weights with their
    model.json (served like a model trained here), as a new version of model ``name``."""
    registered = await run_in_threadpool(
        register_uploaded_model,
        db,
        store,
        tenant_id=caller.tenant_id,
        tenant_name=caller.tenant_name,
        request=body,
    )
    specs.forget()  # serve the new version from the next request on
    target = f"{registered.name}:{registered.version}"
    return await audit.alog(
        "model.register",
        registered,
        target=target,
        format=registered.format,
        file=body.file,
        description_file=body.description_file,
    )


@router.post("/{name}/predict", tags=["predict"])
async def predict(
    name: str,
    body: PredictRequest,
    request: Request,
    predictions: PredictionsDep,
    caller: Inference,
) -> PredictResponse:
    return await unless_disconnected(request, predictions.predict(caller, name, body.instances))

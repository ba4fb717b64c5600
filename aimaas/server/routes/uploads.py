"""``POST /v1/models``: register a model version from files uploaded with ``purpose: "model"``
(scope ``models:write``); the version belongs to the caller's tenant."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, status
from starlette.concurrency import run_in_threadpool

from aimaas.protocol.admin import ModelRegistered
from aimaas.protocol.uploads import UploadedModelRegister
from aimaas.runtime.uploaded_models import register_uploaded_model
from aimaas.security.keys import Scope
from aimaas.security.principal import Principal
from aimaas.server.audit import Audit
from aimaas.server.deps import ServicesDep, require_any
from aimaas.server.routes import new_router

router = new_router(prefix="/v1", tags=["models"])

ModelsWriter = Annotated[Principal, Depends(require_any(Scope.MODELS_WRITE))]


@router.post("/models", status_code=status.HTTP_201_CREATED)
async def register_uploaded(
    body: UploadedModelRegister, services: ServicesDep, caller: ModelsWriter, audit: Audit
) -> ModelRegistered:
    """A GGUF file (served by llama.cpp), or safetensors or ONNX weights with their
    model.json (served like a model trained here), as a new version of model ``name``."""
    registered = await run_in_threadpool(
        register_uploaded_model,
        services.db,
        services.store,
        tenant_id=caller.tenant_id,
        tenant_name=caller.tenant_name,
        request=body,
    )
    services.specs.forget()  # serve the new version from the next request on
    target = f"{registered.name}:{registered.version}"
    return await audit.alog(
        "model.register",
        registered,
        target=target,
        format=registered.format,
        file=body.file,
        description_file=body.description_file,
    )

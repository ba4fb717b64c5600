"""Serving trained models: Open Inference Protocol v2 per model, and KServe v1-style
``/v1/models/{name}/predict``.

The two infer routes are the hot path: the answer, already a checked ``InferResponse``, is
sent as JSON as it is, not validated and serialized a second time.
"""

from __future__ import annotations

from fastapi import Request, Response

from aimaas.protocol.predict import PredictRequest, PredictResponse
from aimaas.protocol.v2 import InferRequest, InferResponse, ModelMetadata
from aimaas.server.deps import Inference, ModelsReader, ServicesDep
from aimaas.server.routes import new_router
from aimaas.server.streaming import unless_disconnected


def _json(answer: InferResponse) -> Response:
    return Response(answer.model_dump_json(), media_type="application/json")


v2_router = new_router(prefix="/v2/models", tags=["v2"])
predict_router = new_router(prefix="/v1/models", tags=["predict"])


@v2_router.get("/{name}")
async def model_metadata(name: str, services: ServicesDep, caller: ModelsReader) -> ModelMetadata:
    return await services.predictions.metadata(caller, name, None)


@v2_router.get("/{name}/versions/{version}")
async def version_metadata(
    name: str, version: str, services: ServicesDep, caller: ModelsReader
) -> ModelMetadata:
    return await services.predictions.metadata(caller, name, version)


@v2_router.get("/{name}/ready")
async def model_ready(name: str, services: ServicesDep, caller: ModelsReader) -> dict[str, bool]:
    return {"ready": await services.predictions.ready(caller, name, None)}


@v2_router.get("/{name}/versions/{version}/ready")
async def version_ready(
    name: str, version: str, services: ServicesDep, caller: ModelsReader
) -> dict[str, bool]:
    return {"ready": await services.predictions.ready(caller, name, version)}


@v2_router.post("/{name}/infer", response_model=InferResponse)
async def infer(
    name: str, body: InferRequest, request: Request, services: ServicesDep, caller: Inference
) -> Response:
    work = services.predictions.infer(caller, name, None, body)
    return _json(await unless_disconnected(request, work))


@v2_router.post("/{name}/versions/{version}/infer", response_model=InferResponse)
async def infer_version(
    name: str,
    version: str,
    body: InferRequest,
    request: Request,
    services: ServicesDep,
    caller: Inference,
) -> Response:
    work = services.predictions.infer(caller, name, version, body)
    return _json(await unless_disconnected(request, work))


@predict_router.post("/{name}/predict")
async def predict(
    name: str, body: PredictRequest, request: Request, services: ServicesDep, caller: Inference
) -> PredictResponse:
    return await unless_disconnected(
        request, services.predictions.predict(caller, name, body.instances)
    )

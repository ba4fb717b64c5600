"""Open Inference Protocol v2: the server-level endpoints, and serving trained models per
model and version.

The two infer routes are the hot path: the answer, already a checked ``InferResponse``, is
sent as JSON as it is, not validated and serialized a second time.
"""

from __future__ import annotations

from fastapi import Request, Response

from aimaas import __version__
from aimaas.errors import Unavailable
from aimaas.protocol.v2 import InferRequest, InferResponse, ModelMetadata, ServerMetadata
from aimaas.server.deps import AnyKey, Inference, ModelsReader, PredictionsDep, Ready
from aimaas.server.routes import new_router
from aimaas.server.streaming import unless_disconnected

router = new_router(prefix="/v2", tags=["v2"])


def _json(answer: InferResponse) -> Response:
    return Response(answer.model_dump_json(), media_type="application/json")


@router.get("")
def server_metadata(_: AnyKey) -> ServerMetadata:
    return ServerMetadata(name="aimaas", version=__version__, extensions=[])


@router.get("/health/live")
def live(_: AnyKey) -> dict[str, bool]:
    return {"live": True}


@router.get("/health/ready")
def ready(is_ready: Ready, _: AnyKey) -> dict[str, bool]:
    if not is_ready:
        raise Unavailable("Not ready: starting up or shutting down.")
    return {"ready": True}


@router.get("/models/{name}")
async def model_metadata(
    name: str, predictions: PredictionsDep, caller: ModelsReader
) -> ModelMetadata:
    return await predictions.metadata(caller, name, None)


@router.get("/models/{name}/versions/{version}")
async def version_metadata(
    name: str, version: str, predictions: PredictionsDep, caller: ModelsReader
) -> ModelMetadata:
    return await predictions.metadata(caller, name, version)


@router.get("/models/{name}/ready")
async def model_ready(
    name: str, predictions: PredictionsDep, caller: ModelsReader
) -> dict[str, bool]:
    return {"ready": await predictions.ready(caller, name, None)}


@router.get("/models/{name}/versions/{version}/ready")
async def version_ready(
    name: str, version: str, predictions: PredictionsDep, caller: ModelsReader
) -> dict[str, bool]:
    return {"ready": await predictions.ready(caller, name, version)}


@router.post("/models/{name}/infer", response_model=InferResponse)
async def infer(
    name: str,
    body: InferRequest,
    request: Request,
    predictions: PredictionsDep,
    caller: Inference,
) -> Response:
    work = predictions.infer(caller, name, None, body)
    return _json(await unless_disconnected(request, work))


@router.post("/models/{name}/versions/{version}/infer", response_model=InferResponse)
async def infer_version(
    name: str,
    version: str,
    body: InferRequest,
    request: Request,
    predictions: PredictionsDep,
    caller: Inference,
) -> Response:
    work = predictions.infer(caller, name, version, body)
    return _json(await unless_disconnected(request, work))

"""Serving trained models: Open Inference Protocol v2 per model, and KServe v1-style
``/v1/models/{name}/predict``.

The two infer routes are the hot path, so they skip what costs there without adding
anything: the caller is checked by the same ``authenticate`` and scope check as every other
route, from an async dependency (FastAPI runs the sync ``get_services`` dependency on a worker
thread, a round trip per request), one key lookup at a time while the key's cache entry is
refreshed (``OneFlight``); the work runs in the request's own task, cancelled by a watcher if
the client goes away; and the answer, already a checked ``InferResponse``, is sent as JSON as
it is, not validated and serialized a second time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Annotated, TypeVar

from fastapi import Depends, Request, Response

from aimaas.protocol.predict import PredictRequest, PredictResponse
from aimaas.protocol.v2 import InferRequest, InferResponse, ModelMetadata
from aimaas.runtime.predict import OneFlight
from aimaas.security.keys import Scope
from aimaas.security.principal import Principal
from aimaas.server.deps import (
    Inference,
    ModelsReader,
    ServicesDep,
    authenticate,
    get_services,
    require_any,
)
from aimaas.server.routes import new_router
from aimaas.server.streaming import unless_disconnected

T = TypeVar("T")

_may_infer = require_any(Scope.INFER)


async def _infer_caller(request: Request) -> Principal:
    """``Inference``, without the worker-thread round trip of ``ServicesDep``."""
    services = get_services(request)
    state = request.app.state
    reads: OneFlight | None = getattr(state, "infer_key_reads", None)
    if reads is None:
        reads = state.infer_key_reads = OneFlight()
    key = request.headers.get("authorization", "")
    return await _may_infer(await reads.run(key, lambda: authenticate(request, services)))


InferenceCaller = Annotated[Principal, Depends(_infer_caller)]


async def _disconnect(request: Request, task: asyncio.Task[object]) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass
    task.cancel("client disconnected")


async def _until_disconnected(request: Request, work: Awaitable[T]) -> T:
    """``unless_disconnected`` with one task less: ``work`` runs in this task, which a
    watcher cancels if the client disconnects first."""
    task = asyncio.current_task()
    assert task is not None
    watcher = asyncio.ensure_future(_disconnect(request, task))
    try:
        return await work
    finally:
        watcher.cancel()


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
    name: str, body: InferRequest, request: Request, caller: InferenceCaller
) -> Response:
    work = get_services(request).predictions.infer(caller, name, None, body)
    return _json(await _until_disconnected(request, work))


@v2_router.post("/{name}/versions/{version}/infer", response_model=InferResponse)
async def infer_version(
    name: str, version: str, body: InferRequest, request: Request, caller: InferenceCaller
) -> Response:
    work = get_services(request).predictions.infer(caller, name, version, body)
    return _json(await _until_disconnected(request, work))


@predict_router.post("/{name}/predict")
async def predict(
    name: str, body: PredictRequest, request: Request, services: ServicesDep, caller: Inference
) -> PredictResponse:
    return await unless_disconnected(
        request, services.predictions.predict(caller, name, body.instances)
    )

"""Open Inference Protocol v2: server-level endpoints."""

from __future__ import annotations

from aimaas import __version__
from aimaas.errors import Unavailable
from aimaas.protocol.v2 import ServerMetadata
from aimaas.server.deps import AnyKey, ServicesDep
from aimaas.server.routes import new_router

router = new_router(prefix="/v2", tags=["v2"])


@router.get("")
def server_metadata(_: AnyKey) -> ServerMetadata:
    return ServerMetadata(name="aimaas", version=__version__, extensions=[])


@router.get("/health/live")
def live(_: AnyKey) -> dict[str, bool]:
    return {"live": True}


@router.get("/health/ready")
def ready(services: ServicesDep, _: AnyKey) -> dict[str, bool]:
    if not services.ready or services.lifecycle.draining:
        raise Unavailable("Not ready: starting up or shutting down.")
    return {"ready": True}

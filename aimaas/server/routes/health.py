"""Liveness, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from aimaas.errors import Unavailable
from aimaas.server.deps import AdminKey, AnyKey, MetricsDep, Ready
from aimaas.server.routes import new_router

router = new_router(tags=["health"])


@router.get("/health")
def health() -> dict[str, str]:
    """Liveness: the process answers. The only route that needs no key."""
    return {"status": "ok"}


@router.get("/ready")
def ready(is_ready: Ready, _: AnyKey) -> dict[str, str]:
    if not is_ready:
        raise Unavailable("Not ready: starting up or shutting down.")
    return {"status": "ready"}


@router.get("/metrics", response_class=Response)
def metrics(metrics: MetricsDep, _: AdminKey) -> Response:
    return Response(metrics.render(), media_type="text/plain; version=0.0.4")


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request, _: AnyKey) -> dict[str, Any]:
    schema: dict[str, Any] = request.app.openapi()
    return schema

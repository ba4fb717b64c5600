"""Thin routers: parse, authorize, call a service or the registry, shape the answer."""

from fastapi import APIRouter

from aimaas.server.routing import AimaasRoute


def new_router(**kwargs: object) -> APIRouter:
    return APIRouter(route_class=AimaasRoute, **kwargs)  # type: ignore[arg-type]

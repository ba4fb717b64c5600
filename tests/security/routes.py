"""The app's routes, walked from the app, with the scopes each one needs (read from its
dependencies, so a new route is covered by the tests that use this without being listed)."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from aimaas.protocol.scopes import ALL_SCOPES

OPEN = "open"  # no key at all (/health)
ANY_KEY = "any key"  # any valid key, whatever its scopes


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    # The scopes of which a key needs one (admin has all), or OPEN / ANY_KEY.
    needs: frozenset[str] | str

    def allows(self, scopes: set[str] | frozenset[str]) -> bool:
        if self.needs in (OPEN, ANY_KEY):
            return True
        assert isinstance(self.needs, frozenset)
        return "admin" in scopes or bool(self.needs & scopes)


def _dependencies(dependant: Any) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub
        yield from _dependencies(sub)


def _checks(call: Any, depth: int = 0) -> Iterator[Any]:
    """The key checks a dependency is or calls: ``authenticate`` and ``require_any``'s
    closures, found directly or among the functions it refers to (a route may wrap them in
    its own dependency)."""
    name = getattr(call, "__qualname__", "")
    if name in ("authenticate", "require_any.<locals>.check"):
        yield call
        return
    if depth >= 2 or not inspect.isfunction(call):
        return
    referred = inspect.getclosurevars(call)
    for value in {**referred.globals, **referred.nonlocals}.values():
        if inspect.isfunction(value):
            yield from _checks(value, depth + 1)


def _needs(dependant: Any) -> frozenset[str] | str:
    wanted: set[str] = set()
    keyed = False
    for sub in _dependencies(dependant):
        for check in _checks(sub.call):
            keyed = True
            if check.__qualname__ != "authenticate":
                wanted |= set(inspect.getclosurevars(check).nonlocals["wanted"])
    if wanted:
        assert wanted <= ALL_SCOPES, wanted
        return frozenset(wanted)
    return ANY_KEY if keyed else OPEN


def walk(app: FastAPI) -> list[Route]:
    """Every (method, path) the app serves, HEAD and OPTIONS aside."""
    found = []
    for route in iter_route_contexts(app.routes):
        dependant = getattr(route, "dependant", None)
        if dependant is None or route.path is None:
            continue
        needs = _needs(dependant)
        for method in sorted(route.methods or ()):
            if method not in ("HEAD", "OPTIONS"):
                found.append(Route(method, route.path, needs))
    assert len(found) >= 50, f"the route walk found only {len(found)} routes"
    # Only liveness is open; a route whose key check the walk cannot see fails here
    # rather than being skipped by the tests that use the walk.
    assert [(r.method, r.path) for r in found if r.needs == OPEN] == [("GET", "/health")]
    return found

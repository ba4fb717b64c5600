"""The tenant x scope matrix over every route walked from the app.

Two tenants, each with the same world of real resources (data and model files, a model
registered from them with an alias, a training job, an evaluation, an optimization, keys)
and a key per scope. Then:

1. Cross-tenant: every route and method, with tenant B's keys and one of tenant A's
   references at a time (the others B's own): never a 2xx, and where B's key has the scope,
   a 404 whose body is the one a missing reference of the same shape gets. Lists answer B's
   keys without a trace of A. A's world is intact afterwards.
2. Scopes: every route and method with every key of both tenants on its own resources: 403
   naming the scope where the key lacks the route's scope, never 403 (nor 5xx) where it has
   it; admin keys have every scope.
"""

from __future__ import annotations

import io
import itertools
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from aimaas.config import Settings
from aimaas.registry.ids import new_id
from tests.conftest import Api
from tests.security.routes import OPEN, Route, walk
from tests.uploads.model_builders import trained_files, upload

SCOPES = ("admin", "models:read", "models:write", "infer", "train")
CSV = b"a,b,c,label\n" + b"".join(
    f"{i % 7 - 3},{i % 5 - 2},{i % 3},{'yes' if i % 7 + i % 5 > 5 else 'no'}\n".encode()
    for i in range(60)
)
# What a path parameter names: a reference to a tenant's resource (or a fixed value).
PATH_REFS = {
    "file_id": "file",
    "model_id": "model",
    "name": "model",
    "job_id": "job",
    "evaluation_id": "evaluation",
    "optimization_id": "optimization",
    "key_id": "key",
    "tenant": "tenant",
}
FIXED = {"alias": "production", "version": "1"}
V2_INPUT = {"name": "input", "shape": [1, 3], "datatype": "FP32", "data": [1.0, 2.0, 0.0]}
# Bodies of the routes that take one; "{ref}" is a reference, "{unique}" a fresh name.
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/v1/admin/tenants"): {"name": "{unique}"},
    ("POST", "/v1/admin/keys"): {"tenant": "{tenant}", "scopes": ["infer"]},
    ("POST", "/v1/admin/models"): {"name": "{unique}", "gguf": "/nonexistent/m.gguf"},
    ("PUT", "/v1/admin/keys/{key_id}/limits"): {},
    ("PUT", "/v1/admin/tenants/{tenant}/limits"): {},
    ("POST", "/v1/files"): "multipart",
    ("POST", "/v1/models"): {
        "name": "{unique}",
        "file": "{weights}",
        "description_file": "{description}",
    },
    ("POST", "/v1/chat/completions"): {
        "model": "{model}",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 1,
    },
    ("POST", "/v1/completions"): {"model": "{model}", "prompt": "hi", "max_tokens": 1},
    ("POST", "/v1/embeddings"): {"model": "{model}", "input": "hi"},
    ("POST", "/v1/training/jobs"): {
        "model": "{unique}",
        "algorithm": "logistic_regression",
        "training_file": "{file}",
        "target": "label",
    },
    ("POST", "/v1/training/jobs/{job_id}/cancel"): None,
    ("POST", "/v1/evaluations"): {"model": "{model}", "file": "{file}", "target": "label"},
    ("PUT", "/v1/models/{name}/aliases/{alias}"): {"version": 1},
    ("POST", "/v1/optimizations"): {
        "model": "{model}",
        "method": "prune",
        "evaluation_file": "{dataset}",
    },
    ("POST", "/v1/optimizations/{optimization_id}/cancel"): None,
    ("POST", "/v2/models/{name}/infer"): {"inputs": [V2_INPUT]},
    ("POST", "/v2/models/{name}/versions/{version}/infer"): {"inputs": [V2_INPUT]},
    ("POST", "/v1/models/{name}/predict"): {"instances": [{"a": 1.0, "b": 2.0, "c": 0.0}]},
}


def npz() -> bytes:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)).astype(np.float32)
    out = io.BytesIO()
    np.savez(out, x=x, y=np.where(x[:, 0] + x[:, 1] > 0, "yes", "no"))
    return out.getvalue()


PLACEHOLDER = re.compile(r"\{(\w+)\}")


def operator_route(route: Route) -> bool:
    """Admin routes act on every tenant by design (an admin key is the operator's)."""
    return route.path.startswith("/v1/admin") or route.path == "/metrics"


def destructive(route: Route) -> bool:
    return route.method == "DELETE" or route.path.endswith("/cancel")


@dataclass
class World:
    """One tenant's resources and keys."""

    name: str
    tenant_id: str = ""
    keys: dict[str, str] = field(default_factory=dict)  # scope -> key
    refs: dict[str, str] = field(default_factory=dict)  # reference -> id or name

    def secrets(self) -> set[str]:
        """What must never show up in another tenant's answers."""
        values = set(self.refs.values()) | {self.tenant_id, self.name}
        return {v for v in values if v and v not in FIXED.values()}


def _ok(response: Any, *codes: int) -> Any:
    assert response.status_code in (codes or (200, 201)), response.text
    return response.json()


def build_world(api: Api, name: str) -> World:
    world = World(name, tenant_id=api.create_tenant(name)["id"])
    for scope in SCOPES:
        world.keys[scope] = str(api.create_key(name, [scope])["key"])
    world.refs["tenant"] = world.tenant_id
    world.refs["key"] = str(api.create_key(name, ["infer"])["id"])  # never used to call
    writer = api.create_key(name, ["train", "models:write", "models:read", "infer"])["key"]
    auth = api.auth(str(writer))
    data = api.client.post(
        "/v1/files",
        data={"purpose": "training"},
        files={"file": (f"{name}.csv", CSV, "text/csv")},
        headers=auth,
    )
    world.refs["file"] = _ok(data)["id"]
    arrays = api.client.post(
        "/v1/files",
        data={"purpose": "evaluation"},
        files={"file": (f"{name}.npz", npz(), "application/octet-stream")},
        headers=auth,
    )
    world.refs["dataset"] = _ok(arrays)["id"]
    weights, description, _ = trained_files()
    world.refs["weights"] = _ok(upload(api, weights, "model.safetensors", str(writer)))["id"]
    world.refs["description"] = _ok(upload(api, description, "model.json", str(writer)))["id"]
    model = f"{name}-model"
    registered = api.client.post(
        "/v1/models",
        json={
            "name": model,
            "file": world.refs["weights"],
            "description_file": world.refs["description"],
        },
        headers=auth,
    )
    _ok(registered, 201)
    world.refs["model"] = model
    alias = api.client.put(
        f"/v1/models/{model}/aliases/production", json={"version": 1}, headers=auth
    )
    _ok(alias)
    job = api.client.post(
        "/v1/training/jobs",
        json={
            "model": f"{name}-trained",
            "algorithm": "logistic_regression",
            "training_file": world.refs["file"],
            "target": "label",
        },
        headers=auth,
    )
    world.refs["job"] = _ok(job, 201)["id"]
    evaluation = api.client.post(
        "/v1/evaluations",
        json={"model": model, "file": world.refs["file"], "target": "label"},
        headers=auth,
    )
    world.refs["evaluation"] = _ok(evaluation, 201)["id"]
    optimization = api.client.post(
        "/v1/optimizations",
        json={"model": model, "method": "prune", "evaluation_file": world.refs["dataset"]},
        headers=auth,
    )
    world.refs["optimization"] = _ok(optimization, 201)["id"]
    return world


def missing_refs() -> dict[str, str]:
    """References of the same shape as real ones that name nothing."""
    return {
        "file": new_id("file"),
        "dataset": new_id("file"),
        "weights": new_id("file"),
        "description": new_id("file"),
        "model": "nobody-model",
        "job": new_id("job"),
        "evaluation": new_id("job"),
        "optimization": new_id("job"),
        "key": new_id("key"),
        "tenant": new_id("tnt"),
    }


@dataclass
class Request:
    method: str
    path: str
    json: Any = None
    multipart: bool = False


_unique = itertools.count()


def _fill(value: Any, refs: dict[str, str]) -> Any:
    if isinstance(value, str):
        match = PLACEHOLDER.fullmatch(value)
        if match and match[1] == "unique":
            return f"made-{next(_unique)}"
        return refs[match[1]] if match else value
    if isinstance(value, dict):
        return {k: _fill(v, refs) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, refs) for v in value]
    return value


def references(route: Route) -> list[str]:
    """The tenant references a request to this route carries (path and body)."""
    found = [PATH_REFS[p] for p in PLACEHOLDER.findall(route.path) if p in PATH_REFS]
    body = BODIES.get((route.method, route.path))
    found += [r for r in PLACEHOLDER.findall(str(body)) if r != "unique"]
    return sorted(set(found))


def request_for(route: Route, refs: dict[str, str]) -> Request:
    def sub(match: re.Match[str]) -> str:
        name = match[1]
        return FIXED[name] if name in FIXED else refs[PATH_REFS[name]]

    path = PLACEHOLDER.sub(sub, route.path)
    body = BODIES.get((route.method, route.path))
    if body == "multipart":
        return Request(route.method, path, multipart=True)
    return Request(route.method, path, json=_fill(body, refs))


def send(api: Api, request: Request, key: str) -> Any:
    headers = api.auth(key)
    if request.multipart:
        return api.client.post(
            request.path,
            data={"purpose": "training"},
            files={"file": ("x.csv", CSV, "text/csv")},
            headers=headers,
        )
    return api.client.request(request.method, request.path, json=request.json, headers=headers)


def normalized(text: str, refs: dict[str, str]) -> str:
    for name, value in refs.items():
        text = text.replace(value, f"<{name}>")
    return text


def needs(route: Route) -> Route:
    if (route.method, route.path) == ("POST", "/v1/files"):
        return Route(route.method, route.path, frozenset({"train"}))  # purpose "training"
    return route


def changes(api: Api, world: World) -> list[str]:
    """What is no longer as ``build_world`` left it."""
    found = []
    own = api.auth(world.keys["admin"])
    for ref in ("file", "weights", "description", "dataset"):
        if api.client.get(f"/v1/files/{world.refs[ref]}", headers=own).status_code != 200:
            found.append(f"{ref} {world.refs[ref]} is gone")
    aliases = api.client.get(f"/v1/models/{world.refs['model']}/aliases", headers=own).json()
    if [(x["alias"], x["version"]) for x in aliases.get("data", [])] != [("production", 1)]:
        found.append(f"aliases are {aliases}")
    for kind, ref in (("training/jobs", "job"), ("optimizations", "optimization")):
        job = api.client.get(f"/v1/{kind}/{world.refs[ref]}", headers=own).json()
        if job.get("status") in (None, "cancelled"):
            found.append(f"{kind} {world.refs[ref]}: {job}")
    keys = api.client.get("/v1/admin/keys", headers=api.auth()).json()["data"]
    if next(k for k in keys if k["id"] == world.refs["key"])["revoked_at"]:
        found.append(f"key {world.refs['key']} was revoked")
    return found


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.training.workers = 1
    settings.training.threads = 1
    return settings


@pytest.fixture
def worlds(api: Api) -> Iterator[tuple[World, World]]:
    yield build_world(api, "acme"), build_world(api, "globex")


def test_tenant_by_scope_matrix_over_every_route(api: Api, worlds: tuple[World, World]) -> None:
    started = time.perf_counter()
    a, b = worlds
    routes = [needs(r) for r in walk(api.client.app)]  # type: ignore[arg-type]
    for route in routes:
        if route.method in ("POST", "PUT"):
            assert (route.method, route.path) in BODIES, f"add a body for {route}"
    failures: list[str] = []
    counts: Counter[str] = Counter()

    # --- 1. tenant B's keys against tenant A's references ------------------------------
    for route in routes:
        if operator_route(route) or route.needs == OPEN:
            continue
        refs = references(route)
        for scope, key in b.keys.items():
            allowed = route.allows({scope})
            for ref in refs or [None]:
                if ref is None:  # lists and the like: nothing of A in B's answers
                    response = send(api, request_for(route, b.refs), key)
                    counts["B list requests"] += 1
                    leaked = [s for s in a.secrets() if s in response.text]
                    if response.status_code >= 500 or leaked:
                        failures.append(f"{route} {scope}: {response.status_code} {leaked}")
                        counts["cross-tenant 2xx"] += response.is_success
                    continue
                missing = missing_refs()
                attack = request_for(route, b.refs | {ref: a.refs[ref]})
                twin = request_for(route, b.refs | {ref: missing[ref]})
                hit, miss = send(api, attack, key), send(api, twin, key)
                counts["cross-tenant requests"] += 2
                if hit.is_success:
                    counts["cross-tenant 2xx"] += 1
                expected = 404 if allowed else 403
                same = normalized(hit.text, {ref: a.refs[ref]}) == normalized(
                    miss.text, {ref: missing[ref]}
                )
                if hit.status_code == miss.status_code == expected and same:
                    counts[f"cross-tenant {expected}, as if missing"] += 1
                else:
                    failures.append(
                        f"{route.method} {route.path} [{ref} of A] {scope}: {hit.status_code} "
                        f"{hit.text[:200]} | missing: {miss.status_code} {miss.text[:200]}"
                    )

    # A's world is intact: nothing B did touched it.
    failures += [f"A's world changed: {change}" for change in changes(api, a)]
    assert not failures, "\n".join(failures[:40])

    # --- 2. every key of both tenants on its own resources: 403 iff it lacks the scope ---
    for route in sorted(routes, key=destructive):  # deletes and cancels last
        for world in (a, b):
            for scope, key in world.keys.items():
                response = send(api, request_for(route, world.refs), key)
                counts["scope requests"] += 1
                status = response.status_code
                if not route.allows({scope}):
                    counts["scope violations"] += 1
                    error = response.json()["error"] if status == 403 else ""
                    message = error if isinstance(error, str) else error["message"]
                    if status != 403 or "scope" not in message:
                        failures.append(f"{route} {world.name} {scope}: {status}, not 403")
                elif status == 403 or status >= 500:
                    failures.append(f"{route} {world.name} {scope}: {status} {response.text}")

    took = time.perf_counter() - started
    print(
        f"\nmatrix: {len(routes)} routes x {len(a.keys) + len(b.keys)} keys "
        f"({len(SCOPES)} scopes x 2 tenants); {dict(counts)}; {took:.1f} s"
    )
    assert not failures, "\n".join(failures[:40])
    assert counts["cross-tenant 2xx"] == 0
    assert counts["cross-tenant requests"] > 200 and counts["scope violations"] > 200

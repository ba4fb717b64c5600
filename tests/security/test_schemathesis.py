"""schemathesis over the app's own OpenAPI document: every operation, positive and negative
data, sent in-process with an admin key, then the same cases with a narrow-scope key and
with no key at all.

Checks on every case: not a server error (0 5xx), the response conforms to the schema where
one is declared, and no auth bypass (without a key: never a 2xx, and valid data gets exactly
401; with a key that lacks the operation's scope: never a 2xx, and valid data gets exactly
403).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import response_schema_conformance

from aimaas.config import load_settings
from aimaas.security.bootstrap import ensure_admin_key
from aimaas.server.app import create_app
from tests.security.routes import OPEN, Route, walk

EXAMPLES = 20  # per operation and per mode (positive, negative)
NARROW_SCOPES = frozenset({"infer"})
POSITIVE = schemathesis.GenerationMode.POSITIVE
NEGATIVE = schemathesis.GenerationMode.NEGATIVE
SLOW_S = 5.0  # one in-process request; far above what any takes, to catch a hang
BUDGET_S = 90.0


@dataclass
class Tally:
    cases: Counter[str] = field(default_factory=Counter)  # by mode
    requests: int = 0
    statuses: dict[str, Counter[int]] = field(default_factory=dict)  # by key
    failures: list[str] = field(default_factory=list)
    nothing_to_negate: set[str] = field(default_factory=set)
    slowest: float = 0.0

    def fail(self, case: schemathesis.Case, what: str) -> None:
        if len(self.failures) < 50:
            self.failures.append(
                f"{case.method} {case.formatted_path} query={case.query} "
                f"body={str(case.body)[:200]}: {what}"
            )


@dataclass
class Fuzz:
    client: asgi.ASGIClient
    schema: Any
    routes: dict[tuple[str, str], Route]
    keys: dict[str, tuple[str | None, frozenset[str]]]  # label -> (key, its scopes)


@pytest.fixture
def fuzz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzz]:
    config = load_settings(data_dir=tmp_path_factory.mktemp("fuzz") / "data")
    config.server.access_log = False
    config.server.allowed_hosts.append(asgi.HOST)
    config.engine.default_models = False  # no model is loaded: generated names find none
    config.training.threads = 1
    app = create_app(config)
    routes = {(r.method, r.path): r for r in walk(app)}
    schema = schemathesis.openapi.from_dict(app.openapi())
    # schemathesis's requests session over ASGI; entering it runs the app's lifespan, which
    # its pytest plugin ends when the test ends (so is the fixture function-scoped).
    try:
        with asgi.get_client(app) as client:
            admin = ensure_admin_key(app.state.services.db, config.storage.admin_key_file)
            assert admin is not None
            auth = {"Authorization": f"Bearer {admin}"}
            made = client.post("/v1/admin/tenants", json={"name": "fuzzed"}, headers=auth)
            assert made.status_code == 201, made.text
            body = {"tenant": "fuzzed", "scopes": sorted(NARROW_SCOPES)}
            narrow = client.post("/v1/admin/keys", json=body, headers=auth)
            assert narrow.status_code == 201, narrow.text
            keys = {
                "admin": (admin, frozenset({"admin"})),
                "infer only": (narrow.json()["key"], NARROW_SCOPES),
                "no key": (None, frozenset()),
            }
            yield Fuzz(client, schema, routes, keys)
    finally:
        asgi.shutdown_lifespans()


def _cases(operation: Any, mode: schemathesis.GenerationMode) -> list[schemathesis.Case]:
    """Up to EXAMPLES cases, the same ones every run (a failure reproduces)."""
    drawn: list[schemathesis.Case] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def draw(case: schemathesis.Case) -> None:
        drawn.append(case)

    try:
        draw()
    except Unsatisfiable:  # negative data for an operation without parameters or a body
        assert mode == NEGATIVE
    return drawn


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


def _send(fuzz: Fuzz, case: schemathesis.Case, label: str, route: Route, tally: Tally) -> None:
    key, scopes = fuzz.keys[label]
    positive = case.meta is None or case.meta.generation.mode == POSITIVE
    headers = {"Authorization": f"Bearer {key}" if key else ""}
    started = time.perf_counter()
    try:
        response = case.call(session=fuzz.client, headers=headers, timeout=30)
    except Exception as exc:  # the app raised through the transport
        tally.fail(case, f"{label}: the call raised {exc!r}")
        return
    took = time.perf_counter() - started
    tally.requests += 1
    tally.slowest = max(tally.slowest, took)
    tally.statuses.setdefault(label, Counter())[response.status_code] += 1
    status = response.status_code
    if took > SLOW_S:
        tally.fail(case, f"{label}: took {took:.1f} s")
    try:
        case.validate_response(
            response, checks=[not_a_server_error, response_schema_conformance], headers=headers
        )
    except Exception as exc:
        tally.fail(case, f"{label}: {status}: {str(exc)[:300]}")
    if route.needs == OPEN or (key is not None and route.allows(scopes)):
        return
    refusal = 401 if key is None else 403
    # A NUL character anywhere is refused as the request is read, before its key.
    expected = (
        {400, refusal} if _has_nul([case.body, case.path_parameters, case.query]) else {refusal}
    )
    if 200 <= status < 300 or (positive and status not in expected):
        tally.fail(case, f"{label}: {status} where {refusal} was due")


def test_every_operation_positive_and_negative_with_three_keys(fuzz: Fuzz) -> None:
    started = time.perf_counter()
    operations = [result.ok() for result in fuzz.schema.get_all_operations()]
    # Every operation of the document is a route the walk found, and the other way round
    # (/openapi.json itself is left out of the document).
    documented = {(op.method.upper(), op.path) for op in operations}
    assert documented == set(fuzz.routes) - {("GET", "/openapi.json")}
    tally = Tally()
    for operation in operations:
        route = fuzz.routes[(operation.method.upper(), operation.path)]
        for mode in (POSITIVE, NEGATIVE):
            cases = _cases(operation, mode)
            if not cases:
                tally.nothing_to_negate.add(f"{route.method} {route.path}")
            for case in cases:
                tally.cases[mode.value] += 1
                for label in fuzz.keys:
                    _send(fuzz, case, label, route, tally)
    took = time.perf_counter() - started
    print(
        f"\nschemathesis: {len(operations)} operations, {sum(tally.cases.values())} cases "
        f"{dict(tally.cases)}, {tally.requests} requests "
        f"({len(tally.nothing_to_negate)} operations have nothing to negate); statuses by key: "
        f"{ {label: dict(sorted(c.items())) for label, c in tally.statuses.items()} }; "
        f"slowest {tally.slowest * 1000:.0f} ms; {took:.1f} s"
    )
    assert not tally.failures, "\n".join(tally.failures)
    assert all(status < 500 for c in tally.statuses.values() for status in c)
    assert tally.statuses["infer only"][403] > 0 and tally.statuses["no key"][401] > 0
    assert tally.statuses["admin"][200] > 0
    assert took < BUDGET_S * 2, f"took {took:.0f} s; keep it near {BUDGET_S:.0f} s"

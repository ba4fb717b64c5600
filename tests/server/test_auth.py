"""Every route needs a key (walked from the app), and keys are checked properly."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.routing import iter_route_contexts

from tests.conftest import Api

OPEN_ROUTES = {("GET", "/health")}


def _routes(api: Api) -> list[tuple[str, str]]:
    found = []
    for route in iter_route_contexts(api.client.app.routes):  # type: ignore[attr-defined]
        path = re.sub(r"\{[^}]+\}", "some-id", route.path)
        found += [(method, path) for method in sorted(route.methods or ())]
    assert len(found) >= 12, "route walk found too few routes"
    return found


def test_every_route_but_health_needs_a_key(api: Api) -> None:
    for method, path in _routes(api):
        response = api.client.request(method, path)
        if (method, path) in OPEN_ROUTES:
            assert response.status_code == 200
            continue
        assert response.status_code == 401, (method, path, response.text)
        error = response.json()["error"]
        assert "API key" in (error if path.startswith("/v2") else error["message"])
        assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "header",
    [
        "Bearer sk-aimaas-not-a-real-key",
        "Bearer ' OR 1=1 --",
        "Bearer sk-aimaas-" + "a" * 65536,
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "sk-aimaas-abc",
    ],
)
def test_wrong_keys_are_401(api: Api, header: str) -> None:
    for method, path in _routes(api):
        if (method, path) in OPEN_ROUTES:
            continue
        response = api.client.request(method, path, headers={"Authorization": header})
        assert response.status_code == 401, (method, path, response.text)


def test_two_authorization_headers_are_refused(api: Api) -> None:
    response = api.client.get(
        "/v1/models",
        headers=[("Authorization", f"Bearer {api.admin_key}"), ("Authorization", "Bearer x")],
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "Authorization"


def test_revoked_key_is_401_at_once(api: Api) -> None:
    api.create_tenant("acme")
    key = api.create_key("acme", ["models:read"])
    assert api.client.get("/v1/models", headers=api.auth(str(key["key"]))).status_code == 200
    revoked = api.client.delete(f"/v1/admin/keys/{key['id']}", headers=api.auth())
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert api.client.get("/v1/models", headers=api.auth(str(key["key"]))).status_code == 401


def test_key_with_past_expiry_is_refused_at_creation(api: Api) -> None:
    api.create_tenant("acme")
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    response = api.client.post(
        "/v1/admin/keys",
        json={"tenant": "acme", "scopes": ["infer"], "expires_at": past},
        headers=api.auth(),
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "expires_at"


def test_scope_violations_are_403(api: Api) -> None:
    api.create_tenant("acme")
    infer_only = str(api.create_key("acme", ["infer"])["key"])
    train_only = str(api.create_key("acme", ["train"])["key"])
    for method, path in _routes(api):
        if path.startswith("/v1/admin") or path == "/metrics":
            response = api.client.request(method, path, headers=api.auth(infer_only))
            assert response.status_code == 403, (method, path)
            assert "admin" in response.json()["error"]["message"]
    assert api.client.get("/v1/models", headers=api.auth(train_only)).status_code == 403
    assert api.client.get("/v1/models", headers=api.auth(infer_only)).status_code == 200


def test_another_tenants_model_is_404_like_a_missing_one(api: Api) -> None:
    acme = api.create_tenant("acme")
    api.create_tenant("globex")
    globex_key = str(api.create_key("globex", ["models:read"])["key"])
    acme_key = str(api.create_key("acme", ["models:read"])["key"])

    missing = api.client.get("/v1/models/secret-model", headers=api.auth(globex_key))
    assert missing.status_code == 404

    services = api.client.app.state.services  # type: ignore[attr-defined]
    with services.db.session() as session:
        from aimaas.registry.tables import Model

        session.add(Model(id="m-1", tenant_id=acme["id"], name="secret-model", task="chat"))

    other = api.client.get("/v1/models/secret-model", headers=api.auth(globex_key))
    assert other.status_code == 404
    assert other.json() == missing.json()
    listed = api.client.get("/v1/models", headers=api.auth(globex_key)).json()
    assert "secret-model" not in {m["id"] for m in listed["data"]}
    shared = {m["id"] for m in listed["data"] if m["owned_by"] == "aimaas"}
    assert shared == {m["id"] for m in listed["data"]}

    own = api.client.get("/v1/models/secret-model", headers=api.auth(acme_key))
    assert own.status_code == 200
    assert own.json()["id"] == "secret-model" and own.json()["owned_by"] == "acme"

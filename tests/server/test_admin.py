"""Admin API: tenants and keys."""

from __future__ import annotations

from tests.conftest import Api


def test_create_and_list_tenants(api: Api) -> None:
    created = api.create_tenant("acme")
    assert created["name"] == "acme" and created["id"].startswith("tn-")
    listed = api.client.get("/v1/admin/tenants", headers=api.auth()).json()
    assert [t["name"] for t in listed["data"]] == ["admin", "acme"]


def test_duplicate_tenant_is_409(api: Api) -> None:
    api.create_tenant("acme")
    response = api.client.post("/v1/admin/tenants", json={"name": "acme"}, headers=api.auth())
    assert response.status_code == 409
    assert response.json()["error"]["param"] == "name"


def test_bad_tenant_names_are_400_naming_the_field(api: Api) -> None:
    for name in ["", "../../etc/passwd", "a" * 65, "x\u0000y", "-leading", "sp ace", 42]:
        response = api.client.post("/v1/admin/tenants", json={"name": name}, headers=api.auth())
        assert response.status_code == 400, name
        assert response.json()["error"]["param"] == "name"


def test_unknown_field_is_400_naming_it(api: Api) -> None:
    response = api.client.post(
        "/v1/admin/tenants", json={"name": "acme", "nmae": "x"}, headers=api.auth()
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "nmae"


def test_create_key_by_tenant_name_or_id(api: Api) -> None:
    tenant = api.create_tenant("acme")
    by_name = api.create_key("acme", ["infer"], name="ci")
    by_id = api.create_key(tenant["id"], ["train", "models:read"])
    for key in (by_name, by_id):
        assert str(key["key"]).startswith("sk-aimaas-")
        assert key["tenant"] == tenant["id"] and key["tenant_name"] == "acme"
    assert by_name["name"] == "ci" and by_id["scopes"] == ["train", "models:read"]


def test_key_listing_never_shows_the_secret(api: Api) -> None:
    api.create_tenant("acme")
    key = api.create_key("acme", ["infer"])
    listing = api.client.get("/v1/admin/keys", headers=api.auth())
    assert listing.status_code == 200
    assert str(key["key"]) not in listing.text
    assert api.admin_key not in listing.text
    row = next(k for k in listing.json()["data"] if k["id"] == key["id"])
    assert row["prefix"] == str(key["key"])[:14] and "key" not in row


def test_unknown_scope_and_tenant(api: Api) -> None:
    api.create_tenant("acme")
    bad_scope = api.client.post(
        "/v1/admin/keys", json={"tenant": "acme", "scopes": ["root"]}, headers=api.auth()
    )
    assert bad_scope.status_code == 400
    assert bad_scope.json()["error"]["param"].startswith("scopes")
    no_tenant = api.client.post(
        "/v1/admin/keys", json={"tenant": "nope", "scopes": ["infer"]}, headers=api.auth()
    )
    assert no_tenant.status_code == 404
    assert "aimaas tenants create nope" in no_tenant.json()["error"]["message"]


def test_revoking_unknown_key_is_404(api: Api) -> None:
    response = api.client.delete("/v1/admin/keys/key-nope", headers=api.auth())
    assert response.status_code == 404

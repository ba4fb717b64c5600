"""Limits and quotas in-process: the admin routes, refusals (429 + Retry-After naming the
limit, 400 for what no limit could allow), what a key over its quota can still do, the usage
report, and the tenant's job and upload limits. No model is loaded: every refusal here comes
before the model would run."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from aimaas.errors import InvalidInput, QuotaExceeded
from aimaas.registry import jobs, repository
from aimaas.registry.tables import utcnow
from aimaas.security.principal import Principal
from tests.conftest import Api

CHAT = "smollm2-135m-instruct"
EMBED = "all-minilm-l6-v2"
CSV = b"x1,x2,label\n1,2,cat\n3,4,dog\n5,6,cat\n1,1,dog\n2,2,cat\n3,3,dog\n"


def put_limits(api: Api, kind: str, ref: str, **limits: Any) -> httpx.Response:
    return api.client.put(f"/v1/admin/{kind}/{ref}/limits", json=limits, headers=api.auth())


def new_key(api: Api, tenant: str, scopes: list[str] | None = None) -> tuple[str, str]:
    created = api.create_key(tenant, scopes or ["infer", "models:read", "train"])
    return str(created["id"]), str(created["key"])


def chat(api: Api, key: str, **extra: Any) -> httpx.Response:
    body = {"model": CHAT, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}
    return api.client.post("/v1/chat/completions", json=body | extra, headers=api.auth(key))


def record(api: Api, tenant_id: str, key_id: str, prompt: int, completion: int) -> None:
    with api.client.app.state.services.db.session() as session:  # type: ignore[attr-defined]
        row = repository.RequestUsage(
            tenant_id=tenant_id,
            key_id=key_id,
            model=CHAT,
            endpoint="/v1/chat",
            prompt_tokens=prompt,
            completion_tokens=completion,
            created_at=utcnow(),
        )
        repository.record_usage(session, [row])


def test_set_and_get_limits(api: Api) -> None:
    tenant = api.create_tenant("acme")
    key_id, _ = new_key(api, "acme")
    empty = api.client.get(f"/v1/admin/keys/{key_id}/limits", headers=api.auth()).json()
    assert empty["limits"] == dict.fromkeys(
        ["requests_per_minute", "tokens_per_minute", "tokens_per_day", "tokens_per_month"]
    )
    response = put_limits(api, "keys", key_id, requests_per_minute=5, tokens_per_day=None)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["subject"] == "key" and body["id"] == key_id
    assert body["limits"]["requests_per_minute"] == 5 and body["limits"]["tokens_per_day"] is None
    assert body["remaining"]["requests_per_minute"] == 5
    # Tenants by name or id; jobs and uploads are tenant limits.
    response = put_limits(api, "tenants", "acme", jobs_per_day=3, upload_bytes_per_day=10**6)
    assert response.status_code == 200, response.text
    got = api.client.get(f"/v1/admin/tenants/{tenant['id']}/limits", headers=api.auth()).json()
    assert got["name"] == "acme" and got["limits"]["jobs_per_day"] == 3
    assert got["remaining"]["upload_bytes_per_day"] == 10**6
    # PUT replaces: what is left out is no limit.
    cleared = put_limits(api, "tenants", "acme").json()
    assert set(cleared["limits"].values()) == {None}


def test_bad_limits_are_400_naming_the_field(api: Api) -> None:
    api.create_tenant("acme")
    key_id, _ = new_key(api, "acme")
    for body in (
        {"requests_per_minute": -1},
        {"requests_per_minute": 10**10},
        {"tokens_per_day": "100"},
        {"tokens_per_day": 1.5},
        {"tokens_per_day": True},
        {"tokens_per_month": 10**16},
    ):
        response = put_limits(api, "keys", key_id, **body)
        assert response.status_code == 400, body
        assert response.json()["error"]["param"] == next(iter(body)), body
    unknown = put_limits(api, "keys", key_id, request_per_minute=5)
    assert unknown.status_code == 400 and unknown.json()["error"]["param"] == "request_per_minute"
    # Job and upload limits belong to tenants.
    assert put_limits(api, "keys", key_id, jobs_per_day=1).status_code == 400
    assert put_limits(api, "keys", "key-nope", tokens_per_day=1).status_code == 404
    assert put_limits(api, "tenants", "nope", tokens_per_day=1).status_code == 404


def test_limits_need_an_admin_key(api: Api) -> None:
    api.create_tenant("acme")
    key_id, key = new_key(api, "acme")
    response = api.client.put(
        f"/v1/admin/keys/{key_id}/limits", json={"tokens_per_day": 10**9}, headers=api.auth(key)
    )
    assert response.status_code == 403
    assert api.client.get("/v1/admin/tenants/acme/limits", headers=api.auth(key)).status_code == 403


def test_over_the_request_rate_is_429_naming_the_limit(api: Api) -> None:
    api.create_tenant("acme")
    key_id, key = new_key(api, "acme")
    assert put_limits(api, "keys", key_id, requests_per_minute=2).status_code == 200
    for _ in range(2):  # counted even when the model does not exist
        response = api.client.post(
            "/v1/models/nope/predict", json={"instances": [[1]]}, headers=api.auth(key)
        )
        assert response.status_code == 404
    refused = api.client.post(
        "/v1/models/nope/predict", json={"instances": [[1]]}, headers=api.auth(key)
    )
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    error = refused.json()["error"]
    assert error["type"] == "rate_limit_error" and error["code"] == "quota_exceeded"
    assert f"requests_per_minute of key {key_id}: 2 used of 2" in error["message"]
    # v2 infer counts too, and answers in the v2 error shape.
    v2 = api.client.post(
        "/v2/models/nope/infer",
        json={"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}]},
        headers=api.auth(key),
    )
    assert v2.status_code == 429 and "requests_per_minute" in v2.json()["error"]
    assert chat(api, key).status_code == 429
    # Listing models and reading usage are not rate limited.
    models = api.client.get("/v1/models", headers=api.auth(key))
    assert models.status_code == 200 and CHAT in {m["id"] for m in models.json()["data"]}
    assert api.client.get("/v1/usage", headers=api.auth(key)).status_code == 200
    # An admin lifts the limit: it applies at once.
    assert put_limits(api, "keys", key_id).status_code == 200
    again = api.client.post(
        "/v1/models/nope/predict", json={"instances": [[1]]}, headers=api.auth(key)
    )
    assert again.status_code == 404


def test_token_quota_seeded_from_usage(api: Api) -> None:
    tenant = api.create_tenant("acme")
    key_id, key = new_key(api, "acme")
    record(api, tenant["id"], key_id, 600, 400)
    assert put_limits(api, "keys", key_id, tokens_per_day=1000).status_code == 200
    refused = chat(api, key)
    assert refused.status_code == 429, refused.text
    message = refused.json()["error"]["message"]
    assert f"tokens_per_day of key {key_id}: 1000 used of 1000" in message
    assert int(refused.headers["Retry-After"]) <= 86_400
    embedding = api.client.post(
        "/v1/embeddings", json={"model": EMBED, "input": "hello"}, headers=api.auth(key)
    )
    assert embedding.status_code == 429
    assert api.client.get("/v1/models", headers=api.auth(key)).status_code == 200
    # Another key of the tenant is not bound by this key's quota...
    _, other = new_key(api, "acme")
    too_big = chat(api, other, max_tokens=10**6)
    assert too_big.status_code != 429
    # ...but it is by the tenant's.
    assert put_limits(api, "tenants", "acme", tokens_per_month=1000).status_code == 200
    tenant_refusal = chat(api, other)
    assert tenant_refusal.status_code == 429
    assert "tokens_per_month of tenant acme" in tenant_refusal.json()["error"]["message"]


def test_a_request_larger_than_a_limit_is_400(api: Api) -> None:
    api.create_tenant("acme")
    key_id, key = new_key(api, "acme")
    assert put_limits(api, "keys", key_id, tokens_per_minute=100).status_code == 200
    response = chat(api, key, max_tokens=500)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "max_tokens" and "tokens_per_minute" in error["message"]
    # Without max_tokens the model's whole context is the maximum.
    body = {"model": CHAT, "messages": [{"role": "user", "content": "hi"}]}
    no_max = api.client.post("/v1/chat/completions", json=body, headers=api.auth(key))
    assert no_max.status_code == 400 and no_max.json()["error"]["param"] == "max_tokens"


def test_usage_report(api: Api) -> None:
    tenant = api.create_tenant("acme")
    key_id, key = new_key(api, "acme")
    other_id, other = new_key(api, "acme")
    record(api, tenant["id"], key_id, 10, 5)
    record(api, tenant["id"], key_id, 20, 7)
    record(api, tenant["id"], other_id, 1, 1)
    assert put_limits(api, "keys", key_id, tokens_per_day=100).status_code == 200
    own = api.client.get("/v1/usage", headers=api.auth(key))
    assert own.status_code == 200, own.text
    body = own.json()
    assert body["object"] == "list"
    [row] = body["data"]
    assert row["key_id"] == key_id and row["model"] == CHAT
    assert (row["requests"], row["prompt_tokens"], row["completion_tokens"]) == (2, 30, 12)
    assert body["limits"]["key"]["remaining"]["tokens_per_day"] == 100 - 42
    assert body["limits"]["tenant"]["name"] == "acme"
    whole = api.client.get("/v1/usage?scope=tenant", headers=api.auth(key)).json()
    assert {r["key_id"] for r in whole["data"]} == {key_id, other_id}
    assert "key" not in whole["limits"]
    # Admins may read anyone's; others may not.
    assert api.client.get(f"/v1/usage?key={key_id}", headers=api.auth(other)).status_code == 403
    admin_view = api.client.get("/v1/usage?tenant=acme", headers=api.auth()).json()
    assert sum(r["requests"] for r in admin_view["data"]) == 3
    by_key = api.client.get(f"/v1/usage?key={other_id}", headers=api.auth()).json()
    assert [r["key_id"] for r in by_key["data"]] == [other_id]
    # Dates: a range that holds nothing, a reversed one, a malformed one.
    past = api.client.get("/v1/usage?start=2020-01-01&end=2020-01-31", headers=api.auth(key))
    assert past.status_code == 200 and past.json()["data"] == []
    reversed_ = api.client.get("/v1/usage?start=2020-02-01&end=2020-01-01", headers=api.auth(key))
    assert reversed_.status_code == 400 and reversed_.json()["error"]["param"] == "start"
    bad = api.client.get("/v1/usage?start=yesterday", headers=api.auth(key))
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "start"
    for query, param in (("end=9999-12-31", "end"), ("start=0001-01-01", "start")):
        extreme = api.client.get(f"/v1/usage?{query}", headers=api.auth(key))
        assert extreme.status_code == 400 and extreme.json()["error"]["param"] == param
    wide = api.client.get("/v1/usage?start=2020-01-01&end=2024-01-01", headers=api.auth(key))
    assert wide.status_code == 400 and "366" in wide.json()["error"]["message"]
    assert api.client.get("/v1/usage?key=key-nope", headers=api.auth()).status_code == 404


def test_tenant_job_limit(api: Api) -> None:
    tenant = api.create_tenant("acme")
    _, key = new_key(api, "acme", ["train"])
    # Today's jobs in the registry count (what the tenant submitted before a restart).
    with api.client.app.state.services.db.session() as session:  # type: ignore[attr-defined]
        jobs.create_job(session, tenant_id=tenant["id"], kind="training", spec={})
        jobs.create_job(session, tenant_id=tenant["id"], kind="evaluation", spec={})
    limits = put_limits(api, "tenants", "acme", jobs_per_day=3).json()
    assert limits["used"]["jobs_per_day"] == 2 and limits["remaining"]["jobs_per_day"] == 1
    body = {"model": "m", "algorithm": "logistic_regression", "training_file": "file-nope"}
    # A refused submission gives its place back.
    for _ in range(3):
        response = api.client.post("/v1/training/jobs", json=body, headers=api.auth(key))
        assert response.status_code in (400, 404), response.text
    after = api.client.get("/v1/admin/tenants/acme/limits", headers=api.auth()).json()
    assert after["used"]["jobs_per_day"] == 2
    assert put_limits(api, "tenants", "acme", jobs_per_day=2).status_code == 200
    for path, job in (
        ("/v1/training/jobs", body),
        ("/v1/evaluations", {"model": "m", "file": "file-nope"}),
        ("/v1/optimizations", {"model": "m", "method": "quantize_dynamic"}),
    ):
        refused = api.client.post(path, json=job, headers=api.auth(key))
        assert refused.status_code == 429, (path, refused.text)
        assert "jobs_per_day of tenant acme: 2 used of 2" in refused.json()["error"]["message"]
        assert int(refused.headers["Retry-After"]) >= 1


def test_tenant_upload_limit(api: Api) -> None:
    api.create_tenant("acme")
    _, key = new_key(api, "acme", ["train"])
    limit = len(CSV) * 3 - 1  # two uploads, not three
    assert put_limits(api, "tenants", "acme", upload_bytes_per_day=limit).status_code == 200

    def upload(content: bytes = CSV) -> httpx.Response:
        return api.client.post(
            "/v1/files",
            data={"purpose": "training"},
            files={"file": ("data.csv", content, "text/csv")},
            headers=api.auth(key),
        )

    assert upload().status_code == 200
    assert upload().status_code == 200
    refused = upload()
    assert refused.status_code == 429, refused.text
    assert "upload_bytes_per_day of tenant acme" in refused.json()["error"]["message"]
    assert int(refused.headers["Retry-After"]) >= 1
    usage = api.client.get("/v1/admin/tenants/acme/limits", headers=api.auth()).json()
    # Settled at the files' real sizes, not their bodies'.
    assert usage["used"]["upload_bytes_per_day"] == 2 * len(CSV)
    too_big = upload(CSV * 1000)  # refused by its Content-Length, before it is read
    assert too_big.status_code == 400 and too_big.json()["error"]["param"] == "file"
    # A refused upload (bad content) gives its bytes back.
    assert put_limits(api, "tenants", "acme", upload_bytes_per_day=10**6).status_code == 200
    assert upload(b"\x00\x01not a csv").status_code == 400
    after = api.client.get("/v1/admin/tenants/acme/limits", headers=api.auth()).json()
    assert after["used"]["upload_bytes_per_day"] == 2 * len(CSV)


def test_an_accepted_job_counts_and_a_refused_one_does_not(api: Api) -> None:
    tenant = api.create_tenant("acme")
    key_id, _ = new_key(api, "acme", ["train"])
    assert put_limits(api, "tenants", "acme", jobs_per_day=1).status_code == 200
    quotas = api.client.app.state.services.quotas  # type: ignore[attr-defined]
    caller = Principal(key_id, tenant["id"], "acme", frozenset({"train"}))

    async def submit(fail: bool) -> None:
        async with quotas.job(caller):
            if fail:
                raise InvalidInput("refused by the service")

    portal = api.client.portal  # type: ignore[attr-defined]
    with pytest.raises(InvalidInput):
        portal.call(submit, True)
    portal.call(submit, False)
    with pytest.raises(QuotaExceeded):
        portal.call(submit, False)
    limits = api.client.get("/v1/admin/tenants/acme/limits", headers=api.auth()).json()
    assert limits["used"]["jobs_per_day"] == 1

"""Health, readiness, metrics, request ids, OpenAPI and draining."""

from __future__ import annotations

from tests.conftest import Api


def test_health_needs_no_key(api: Api) -> None:
    response = api.client.get("/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_ready_and_v2_health(api: Api) -> None:
    assert api.client.get("/ready", headers=api.auth()).json() == {"status": "ready"}
    assert api.client.get("/v2/health/live", headers=api.auth()).json() == {"live": True}
    assert api.client.get("/v2/health/ready", headers=api.auth()).json() == {"ready": True}
    meta = api.client.get("/v2", headers=api.auth()).json()
    assert meta["name"] == "aimaas" and meta["version"]


def test_every_response_has_a_request_id(api: Api) -> None:
    ids = set()
    for path, headers in [("/health", {}), ("/v1/models", {}), ("/nothing", api.auth())]:
        response = api.client.get(path, headers=headers)
        ids.add(response.headers["x-request-id"])
    assert len(ids) == 3
    echoed = api.client.get("/health", headers={"X-Request-Id": "trace-123"})
    assert echoed.headers["x-request-id"] == "trace-123"
    hostile = api.client.get("/health", headers={"X-Request-Id": "bad id\twith spaces"})
    assert hostile.headers["x-request-id"] != "bad id\twith spaces"


def test_metrics_count_requests_by_route_and_status(api: Api) -> None:
    api.client.get("/v1/models")  # 401
    api.client.get("/v1/models", headers=api.auth())  # 200
    text = api.client.get("/metrics", headers=api.auth()).text
    assert 'aimaas_http_requests_total{method="GET",route="/v1/models",status="401"} 1.0' in text
    assert 'aimaas_http_requests_total{method="GET",route="/v1/models",status="200"} 1.0' in text
    assert 'aimaas_http_request_duration_seconds_bucket{le="0.005",method="GET"' in text


def test_openapi_needs_a_key_and_lists_the_api(api: Api) -> None:
    assert api.client.get("/openapi.json").status_code == 401
    schema = api.client.get("/openapi.json", headers=api.auth()).json()
    assert "/v1/admin/keys" in schema["paths"] and "/v1/models" in schema["paths"]


def test_draining_answers_503_with_retry_after(api: Api) -> None:
    services = api.client.app.state.services  # type: ignore[attr-defined]
    services.lifecycle.draining = True
    response = api.client.get("/v1/models", headers=api.auth())
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.headers["connection"] == "close"
    assert response.json()["error"]["type"] == "service_unavailable_error"
    services.lifecycle.draining = False


def test_models_list_is_openai_shaped_with_the_defaults(api: Api) -> None:
    listing = api.client.get("/v1/models", headers=api.auth()).json()
    assert listing["object"] == "list"
    assert {m["id"] for m in listing["data"]} == {
        "qwen2.5-coder-1.5b-instruct",
        "qwen2.5-coder-0.5b-instruct",
        "smollm2-135m-instruct",
        "gemma-3-270m",
        "all-minilm-l6-v2",
    }
    for model in listing["data"]:
        assert model["object"] == "model" and model["owned_by"] == "aimaas"
        assert isinstance(model["created"], int)
    one = api.client.get("/v1/models/gemma-3-270m", headers=api.auth()).json()
    assert one["id"] == "gemma-3-270m"

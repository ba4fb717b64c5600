"""The audit log: admin and model-changing actions recorded with who, tenant, target, when,
where and the request id; readable by admins only (API and CLI); never a key in the table
or the server log."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from aimaas.cli.backend import LocalBackend
from aimaas.config import Settings
from aimaas.registry.tables import AuditEvent
from aimaas.security.audit import ACTIONS, audit_list, scrub
from tests import tier
from tests.conftest import Api
from tests.e2e.server import LiveServer
from tests.uploads.model_builders import GGUF_OK

CSV = b"x1,x2,label\n1,2,cat\n3,4,dog\n5,6,cat\n7,8,dog\n"


def audit(api: Api, key: str | None = None, **params: Any) -> Any:
    return api.client.get("/v1/admin/audit", params=params, headers=api.auth(key))


def test_scrub_drops_secrets_and_keeps_the_rest() -> None:
    details = {
        "key": "sk-aimaas-abc",
        "api_key": "x",
        "master_key": "y",
        "client_secret": "z",
        "password": "p",
        "access_token": "t",
        "key_id": "key-1",
        "tokens_per_day": 5,
        "note": "passed sk-aimaas-SECRET123 by mistake",
        "nested": {"authorization": "Bearer sk-aimaas-q", "list": ["sk-aimaas-r", 1]},
        "when": datetime(2026, 1, 1, tzinfo=UTC),
    }
    cleaned = scrub(details)
    assert cleaned == {
        "key_id": "key-1",
        "tokens_per_day": 5,
        "note": "passed [redacted] by mistake",
        "nested": {"list": ["[redacted]", 1]},
        "when": "2026-01-01T00:00:00+00:00",
    }
    deep: dict[str, Any] = {}
    cursor = deep
    for _ in range(50):
        cursor["a"] = {}
        cursor = cursor["a"]
    assert "..." in json.dumps(scrub(deep))
    assert len(scrub("x" * 10_000)) == 256


def test_actions_are_recorded_with_actor_tenant_address_and_request_id(api: Api) -> None:
    admin_id = api.client.get("/v1/admin/keys", headers=api.auth()).json()["data"][0]["id"]
    tenant = api.create_tenant("acme")
    created = api.create_key("acme", ["train", "models:write", "models:read", "infer"])
    key = str(created["key"])
    revoked = api.create_key("acme", ["infer"])
    response = api.client.delete(f"/v1/admin/keys/{revoked['id']}", headers=api.auth())
    assert response.status_code == 200
    limits = api.client.put(
        f"/v1/admin/tenants/{tenant['id']}/limits",
        json={"requests_per_minute": 100},
        headers=api.auth(),
    )
    assert limits.status_code == 200, limits.text
    upload = api.client.post(
        "/v1/files",
        data={"purpose": "training"},
        files={"file": ("d.csv", CSV, "text/csv")},
        headers=api.auth(key),
    )
    assert upload.status_code == 200, upload.text
    file_id = upload.json()["id"]
    request_id = upload.headers["x-request-id"]
    model_file = api.client.post(
        "/v1/files",
        data={"purpose": "model"},
        files={"file": ("m.gguf", GGUF_OK, "application/octet-stream")},
        headers=api.auth(key),
    )
    registered = api.client.post(
        "/v1/models", json={"name": "tiny", "file": model_file.json()["id"]}, headers=api.auth(key)
    )
    assert registered.status_code == 201, registered.text
    job = api.client.post(
        "/v1/training/jobs",
        json={"model": "m", "algorithm": "logistic_regression", "training_file": file_id,
              "target": "label"},
        headers=api.auth(key),
    )  # fmt: skip
    assert job.status_code == 201, job.text
    cancel = api.client.post(f"/v1/training/jobs/{job.json()['id']}/cancel", headers=api.auth(key))
    assert cancel.status_code == 200
    assert api.client.delete(f"/v1/files/{file_id}", headers=api.auth(key)).status_code == 200
    failed = api.client.post("/v1/admin/tenants", json={"name": "acme"}, headers=api.auth())
    assert failed.status_code == 409  # a refused action changes nothing and is not recorded

    events = audit(api).json()["data"]
    by_action: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_action.setdefault(event["action"], []).append(event)
    assert (
        set(by_action)
        == {
            "tenant.create",
            "key.create",
            "key.revoke",
            "limits.set",
            "file.upload",
            "file.delete",
            "model.register",
            "job.create",
            "job.cancel",
        }
        <= set(ACTIONS)
    )
    assert len(by_action["tenant.create"]) == 1 and len(by_action["file.upload"]) == 2
    for event in events:
        assert event["client"] == "testclient" and event["request_id"]
        assert event["tenant"] == tenant["id"] and event["tenant_name"] == "acme"
    key_create = by_action["key.create"][-1]  # newest first: the first key is last
    assert key_create["key_id"] == admin_id and key_create["target"] == created["id"]
    assert key_create["details"] == {"scopes": created["scopes"]}
    assert by_action["key.revoke"][0]["target"] == revoked["id"]
    assert by_action["tenant.create"][0]["target"] == tenant["id"]
    uploaded = next(e for e in by_action["file.upload"] if e["target"] == file_id)
    assert uploaded["key_id"] == created["id"] and uploaded["request_id"] == request_id
    assert uploaded["details"] == {"purpose": "training", "bytes": len(CSV), "format": "csv"}
    assert by_action["model.register"][0]["target"] == "tiny:1"
    assert by_action["job.create"][0]["details"]["kind"] == "training"
    assert by_action["limits.set"][0]["details"]["limits"]["requests_per_minute"] == 100
    assert [e["id"] for e in events] == sorted((e["id"] for e in events), reverse=True)

    # Filters: tenant by name or id, action or action prefix, since, limit.
    assert audit(api, tenant="acme").json()["data"] == events
    assert audit(api, tenant=tenant["id"]).json()["data"] == events
    keys = audit(api, action="key.").json()["data"]
    assert {e["action"] for e in keys} == {"key.create", "key.revoke"}
    assert len(audit(api, action="key.create").json()["data"]) == 2
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert audit(api, since=future).json()["data"] == []
    assert len(audit(api, limit=1).json()["data"]) == 1
    unknown = audit(api, tenant="nobody")
    assert unknown.status_code == 404 and unknown.json()["error"]["param"] == "tenant"
    assert audit(api, limit=0).status_code == 400

    # Admins only.
    assert audit(api, key).status_code == 403
    assert api.client.get("/v1/admin/audit").status_code == 401

    # No key, whole or hashed, anywhere in the table.
    services = api.client.app.state.services  # type: ignore[attr-defined]
    with services.db.session() as session:
        rows = session.scalars(select(AuditEvent)).all()
        dump = json.dumps(
            [[getattr(r, c.name) for c in AuditEvent.__table__.columns] for r in rows],
            default=str,
        )
    assert len(rows) == len(events)
    for secret in (key, str(revoked["key"]), api.admin_key):
        assert secret not in dump and secret[10:] not in dump
    assert "sk-aimaas-" not in dump


# --- a live server: its log, its database and the CLI ----------------------------------------


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    tier.refuse_in_fast_tier("the aimaas CLI")
    return subprocess.run(
        [sys.executable, "-m", "aimaas", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.mark.e2e
def test_no_key_in_the_server_log_or_database_and_the_cli(
    live_server: LiveServer, tmp_path: Path
) -> None:
    secrets: list[str] = []
    ids: list[str] = []
    with live_server.http() as admin:
        assert admin.post("/v1/admin/tenants", json={"name": "acme"}).status_code == 201
        for scopes in (["infer"], ["models:read"], ["admin"]):
            created = admin.post("/v1/admin/keys", json={"tenant": "acme", "scopes": scopes})
            assert created.status_code == 201
            secrets.append(created.json()["key"])
            ids.append(created.json()["id"])
        assert admin.delete(f"/v1/admin/keys/{ids[0]}").status_code == 200
    for secret in secrets:  # used, refused, sent twice, sent as the wrong scheme
        with live_server.http(secret) as client:
            client.get("/v1/models")
            client.get("/v1/admin/audit")
            client.get("/v1/models", headers={"Authorization": f"Basic {secret}"})
    with live_server.http("sk-aimaas-" + "x" * 43) as client:
        assert client.get("/v1/models").status_code == 401

    env = {k: v for k, v in live_server.env.items()} | {
        "AIMAAS_URL": live_server.url,
        "AIMAAS_API_KEY": secrets[2],  # the admin-scoped key of tenant acme
    }
    remote = _cli("audit", "--json", "--action", "key.", env=env)
    assert remote.returncode == 0, remote.stderr
    rows = json.loads(remote.stdout)["data"]
    assert [r["action"] for r in rows] == ["key.revoke", "key.create", "key.create", "key.create"]
    table = _cli("audit", "--tenant", "acme", env=env | {"COLUMNS": "250"})
    assert table.returncode == 0 and "tenant.create" in table.stdout
    denied = _cli("audit", env=env | {"AIMAAS_API_KEY": secrets[1]})
    assert denied.returncode == 1 and "403" in denied.stderr
    live_server.stop()
    local_env = {k: v for k, v in env.items() if k not in ("AIMAAS_URL", "AIMAAS_API_KEY")}
    local = _cli("audit", "--json", env=local_env)
    assert local.returncode == 0, local.stderr
    assert len(json.loads(local.stdout)["data"]) == 5  # tenant, 3 keys, 1 revocation

    log = live_server.log()
    stored = b"".join(
        p.read_bytes() for p in live_server.data_dir.rglob("*") if p.is_file() and "db" in p.name
    )
    for secret in secrets:
        assert secret not in log, "a key reached the server log"
        assert secret.encode() not in stored, "a key reached the database"
        assert secret not in remote.stdout + table.stdout + local.stdout


def test_the_local_cli_is_audited_too(settings: Settings) -> None:
    backend = LocalBackend(settings)
    tenant = backend.create_tenant("acme")
    created = backend.create_key("acme", ["infer"], "ci", None)
    backend.revoke_key(created.id)
    backend.set_limits("tenant", "acme", {"requests_per_minute": 5})
    events = audit_list(backend.db).data
    assert [e.action for e in events] == ["limits.set", "key.revoke", "key.create", "tenant.create"]
    for event in events:
        assert event.key_id is None and event.client == "local"
        assert event.tenant == tenant.id and event.request_id is None
    assert events[2].target == created.id and events[2].details == {"scopes": ["infer"]}
    assert created.key not in events[2].model_dump_json()
    backend.db.dispose()

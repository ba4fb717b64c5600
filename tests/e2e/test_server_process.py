"""The real server process with real clients: the openai package and httpx."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import time
from pathlib import Path

import httpx
import openai
import pytest

from tests.e2e.server import CLEAN_EXIT, LiveServer, descendants, start_server

pytestmark = pytest.mark.e2e


def test_openai_client_lists_models(live_server: LiveServer) -> None:
    client = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=live_server.admin_key)
    assert "smollm2-135m-instruct" in {model.id for model in client.models.list()}
    bad = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key="sk-aimaas-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()


def test_first_admin_key_file_and_message(live_server: LiveServer) -> None:
    key_file = live_server.data_dir / "admin.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert live_server.admin_key in live_server.log()  # printed once, at first start
    live_server.stop()
    again = start_server(live_server.data_dir)
    try:
        assert key_file.read_text().strip() == live_server.admin_key
        assert "Created the first admin key" not in again.log()
        response = httpx.get(f"{again.url}/v1/models", headers=_auth(again.admin_key))
        assert response.status_code == 200
    finally:
        again.stop()


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_json_logs_carry_request_ids_and_never_keys(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url, headers=_auth(live_server.admin_key)) as client:
        created = client.post("/v1/admin/tenants", json={"name": "acme"})
        assert created.status_code == 201
        request_id = created.headers["x-request-id"]
        key = client.post("/v1/admin/keys", json={"tenant": "acme"}).json()["key"]
    deadline = time.monotonic() + 10  # until the access line is written

    def access_lines() -> list[dict[str, object]]:
        lines = [
            json.loads(line) for line in live_server.log().splitlines() if line.startswith("{")
        ]
        return [entry for entry in lines if entry["logger"] == "aimaas.access"]

    access = access_lines()
    while not any(e["request_id"] == request_id for e in access):
        assert time.monotonic() < deadline, "no access line for the request"
        time.sleep(0.05)
        access = access_lines()
    assert any(e["request_id"] == request_id and e["status"] == 201 for e in access)
    assert key not in live_server.log()


def test_sigterm_lets_in_flight_requests_finish(live_server: LiveServer) -> None:
    """A request whose body is still arriving when SIGTERM lands completes with 201; the
    server then exits 0, leaving no child process."""
    body = json.dumps({"name": "late-tenant"}).encode()
    head = (
        f"POST /v1/admin/tenants HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {live_server.admin_key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    children = descendants(live_server.process.pid)
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=10) as sock:
        sock.sendall(head + body[:5])
        time.sleep(0.3)
        live_server.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert live_server.process.poll() is None, "exited before the request finished"
        sock.sendall(body[5:])
        answer = sock.recv(65536).decode()
    assert answer.startswith("HTTP/1.1 201"), answer
    assert live_server.process.wait(timeout=30) in CLEAN_EXIT
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{live_server.url}/health", timeout=2)
    assert not any(Path(f"/proc/{pid}").exists() for pid in children)


def test_bind_defaults_to_loopback(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    try:
        assert "127.0.0.1" in server.log()
    finally:
        assert server.stop() in CLEAN_EXIT
    assert os.path.exists(tmp_path / "data" / "aimaas.db")

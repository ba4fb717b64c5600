"""``kill -9`` while keys are being created: the registry stays intact and every key that
was returned to a client still works after a restart."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import start_server

pytestmark = pytest.mark.e2e

ROUNDS = 3
WRITERS = 4


def _create_keys_until_refused(url: str, admin_key: str, out: list[str]) -> None:
    headers = {"Authorization": f"Bearer {admin_key}"}
    with httpx.Client(base_url=url, headers=headers, timeout=5) as client:
        for _ in range(10_000):  # bounded; the kill ends it far sooner
            try:
                response = client.post("/v1/admin/keys", json={"tenant": "acme"})
            except httpx.HTTPError:
                return
            if response.status_code != 201:
                return
            out.append(response.json()["key"])


def test_kill_9_during_key_creation_loses_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    acknowledged: list[str] = []
    server = start_server(data_dir)
    httpx.post(
        f"{server.url}/v1/admin/tenants",
        json={"name": "acme"},
        headers={"Authorization": f"Bearer {server.admin_key}"},
    ).raise_for_status()
    for _ in range(ROUNDS):
        before = len(acknowledged)
        writers = [
            threading.Thread(
                target=_create_keys_until_refused,
                args=(server.url, server.admin_key, acknowledged),
            )
            for _ in range(WRITERS)
        ]
        for writer in writers:
            writer.start()
        deadline = time.monotonic() + 30  # mid-stream: once a good number are acknowledged
        while len(acknowledged) < before + 20 * WRITERS and time.monotonic() < deadline:
            time.sleep(0.01)
        server.stop(signal.SIGKILL)
        for writer in writers:
            writer.join(timeout=30)
        assert len(acknowledged) > before, "no key was created before the kill"

        with sqlite3.connect(data_dir / "aimaas.db") as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        server = start_server(data_dir)

    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            for key in acknowledged:
                response = client.get("/v1/models", headers={"Authorization": f"Bearer {key}"})
                assert response.status_code == 200, key[:14]
    finally:
        server.stop()

"""``aimaas keys limits``, ``aimaas tenants limits`` and ``aimaas usage``, as real processes:
on the local data directory and against a running server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import aimaas
from tests.e2e.server import LiveServer

pytestmark = pytest.mark.e2e


def _key_id(data_dir: Path) -> str:
    aimaas("tenants", "create", "acme", data_dir=data_dir)
    created = json.loads(
        aimaas("keys", "create", "--tenant", "acme", "--json", data_dir=data_dir).stdout
    )
    return str(created["id"])


def test_local_limits(tmp_path: Path) -> None:
    key_id = _key_id(tmp_path)
    shown = aimaas("keys", "limits", key_id, "--requests-per-minute", "10", data_dir=tmp_path)
    assert "requests_per_minute" in shown.stdout and "10" in shown.stdout
    # Options change what they name; the rest stays.
    aimaas("keys", "limits", key_id, "--tokens-per-day", "1_000", data_dir=tmp_path)
    limits = json.loads(aimaas("keys", "limits", key_id, "--json", data_dir=tmp_path).stdout)
    assert limits["limits"]["requests_per_minute"] == 10
    assert limits["limits"]["tokens_per_day"] == 1000
    cleared = aimaas(
        "keys", "limits", key_id, "--requests-per-minute", "none", "--json", data_dir=tmp_path
    )
    assert json.loads(cleared.stdout)["limits"]["requests_per_minute"] is None
    tenant = aimaas(
        "tenants",
        "limits",
        "acme",
        "--jobs-per-day",
        "3",
        "--upload-bytes-per-day",
        "5000",
        "--json",
        data_dir=tmp_path,
    )
    assert json.loads(tenant.stdout)["limits"]["jobs_per_day"] == 3
    wiped = aimaas("tenants", "limits", "acme", "--clear", "--json", data_dir=tmp_path)
    assert set(json.loads(wiped.stdout)["limits"].values()) == {None}


def test_local_limits_refusals(tmp_path: Path) -> None:
    key_id = _key_id(tmp_path)
    negative = aimaas(
        "keys", "limits", key_id, "--tokens-per-day", "-5", data_dir=tmp_path, check=False
    )
    assert negative.returncode == 1 and "tokens_per_day" in negative.stderr
    word = aimaas(
        "keys", "limits", key_id, "--tokens-per-day", "lots", data_dir=tmp_path, check=False
    )
    assert word.returncode == 1 and "--tokens-per-day" in word.stderr
    missing = aimaas("keys", "limits", "key-nope", data_dir=tmp_path, check=False)
    assert missing.returncode == 1 and "not found" in missing.stderr
    assert "Traceback" not in negative.stderr + word.stderr + missing.stderr


def test_local_usage(tmp_path: Path) -> None:
    _key_id(tmp_path)
    table = aimaas("usage", data_dir=tmp_path)
    assert "Usage" in table.stdout
    report = json.loads(aimaas("usage", "--of-tenant", "acme", "--json", data_dir=tmp_path).stdout)
    assert report["data"] == [] and report["limits"]["tenant"]["name"] == "acme"
    bad = aimaas("usage", "--start", "yesterday", data_dir=tmp_path, check=False)
    assert bad.returncode == 1 and "--start" in bad.stderr


def test_remote_limits_and_usage(live_server: LiveServer, tmp_path: Path) -> None:
    url = ["--url", live_server.url, "--api-key", live_server.admin_key]
    aimaas("tenants", "create", "acme", *url, data_dir=tmp_path)
    created = json.loads(
        aimaas("keys", "create", "--tenant", "acme", "--json", *url, data_dir=tmp_path).stdout
    )
    limits = aimaas(
        "keys",
        "limits",
        created["id"],
        "--requests-per-minute",
        "1",
        "--json",
        *url,
        data_dir=tmp_path,
    )
    assert json.loads(limits.stdout)["limits"]["requests_per_minute"] == 1
    with live_server.http(created["key"]) as client:
        for expected in (404, 429):
            response = client.post("/v1/models/nope/predict", json={"instances": [[1]]})
            assert response.status_code == expected
    own = aimaas(
        "usage", "--json", "--url", live_server.url, "--api-key", created["key"], data_dir=tmp_path
    )
    report = json.loads(own.stdout)
    assert report["limits"]["key"]["used"]["requests_per_minute"] == 1
    whole = aimaas(
        "usage",
        "--tenant",
        "--url",
        live_server.url,
        "--api-key",
        created["key"],
        data_dir=tmp_path,
    )
    assert "Usage" in whole.stdout
    refused = aimaas(
        "usage",
        "--of-tenant",
        "admin",
        "--url",
        live_server.url,
        "--api-key",
        created["key"],
        data_dir=tmp_path,
        check=False,
    )
    assert refused.returncode == 1 and "403" in refused.stderr

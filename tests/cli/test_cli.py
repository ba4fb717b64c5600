"""The ``aimaas`` command, run as a real process: locally and against a running server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from aimaas import __version__
from tests import tier
from tests.e2e.server import LiveServer

pytestmark = pytest.mark.e2e


def aimaas(*args: str, data_dir: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    tier.refuse_in_fast_tier("the aimaas CLI")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIMAAS_")}
    env["AIMAAS_DATA_DIR"] = str(data_dir)
    result = subprocess.run(
        [sys.executable, "-m", "aimaas", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_version(tmp_path: Path) -> None:
    assert aimaas("version", data_dir=tmp_path).stdout.strip() == __version__


def test_local_tenants_and_keys(tmp_path: Path) -> None:
    aimaas("tenants", "create", "acme", data_dir=tmp_path)
    tenants = json.loads(aimaas("tenants", "list", "--json", data_dir=tmp_path).stdout)
    assert [t["name"] for t in tenants["data"]] == ["acme"]

    created = json.loads(
        aimaas(
            "keys",
            "create",
            "--tenant",
            "acme",
            "--scope",
            "infer",
            "--scope",
            "train",
            "--json",
            data_dir=tmp_path,
        ).stdout
    )
    assert created["key"].startswith("sk-aimaas-") and created["scopes"] == ["infer", "train"]

    listing = aimaas("keys", "list", data_dir=tmp_path).stdout
    assert created["key"] not in listing and created["key"][:14] in listing

    aimaas("keys", "revoke", created["id"], data_dir=tmp_path)
    keys = json.loads(aimaas("keys", "list", "--json", data_dir=tmp_path).stdout)["data"]
    assert keys[0]["revoked_at"] is not None
    models = json.loads(aimaas("models", "list", "--json", data_dir=tmp_path).stdout)
    assert models == {"object": "list", "data": []}


def test_errors_name_the_command_that_fixes_them(tmp_path: Path) -> None:
    missing = aimaas("keys", "create", "--tenant", "nope", data_dir=tmp_path, check=False)
    assert missing.returncode == 1
    assert "aimaas tenants create nope" in missing.stderr
    assert "Traceback" not in missing.stderr

    aimaas("tenants", "create", "acme", data_dir=tmp_path)
    duplicate = aimaas("tenants", "create", "acme", data_dir=tmp_path, check=False)
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr

    unreachable = aimaas(
        "tenants",
        "list",
        "--url",
        "http://127.0.0.1:9",
        "--api-key",
        "sk-aimaas-x",
        data_dir=tmp_path,
        check=False,
    )
    assert unreachable.returncode == 1 and "aimaas serve" in unreachable.stderr
    no_key = aimaas(
        "tenants", "list", "--url", "http://127.0.0.1:9", data_dir=tmp_path, check=False
    )
    assert no_key.returncode == 1 and "AIMAAS_API_KEY" in no_key.stderr


def test_remote_commands_use_the_server(live_server: LiveServer, tmp_path: Path) -> None:
    remote = ["--url", live_server.url, "--api-key", live_server.admin_key]
    elsewhere = tmp_path / "unused"
    aimaas("tenants", "create", "acme", *remote, data_dir=elsewhere)
    created = json.loads(
        aimaas("keys", "create", "--tenant", "acme", "--json", *remote, data_dir=elsewhere).stdout
    )
    response = httpx.get(
        f"{live_server.url}/v1/models", headers={"Authorization": f"Bearer {created['key']}"}
    )
    assert response.status_code == 200
    aimaas("keys", "revoke", created["id"], *remote, data_dir=elsewhere)
    response = httpx.get(
        f"{live_server.url}/v1/models", headers={"Authorization": f"Bearer {created['key']}"}
    )
    assert response.status_code == 401
    wrong = aimaas(
        "tenants",
        "list",
        "--url",
        live_server.url,
        "--api-key",
        "sk-aimaas-bad",
        data_dir=elsewhere,
        check=False,
    )
    assert wrong.returncode == 1 and "401" in wrong.stderr
    assert not elsewhere.exists() or not (elsewhere / "aimaas.db").exists()


def test_chat_streams_answers_until_end_of_input(live_server: LiveServer, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIMAAS_")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "aimaas",
            "chat",
            "smollm2-135m-instruct",
            "--url",
            live_server.url,
            "--api-key",
            live_server.admin_key,
            "--max-tokens",
            "8",
        ],
        input="Say hello.\nAnd again.\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    answers = [line for line in result.stdout.splitlines() if "smollm2-135m-instruct> " in line]
    assert len(answers) == 2
    assert all(len(line.split("> ", 2)[-1].strip()) > 0 for line in answers)


def test_chat_names_the_fix_when_the_model_is_wrong(live_server: LiveServer) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIMAAS_")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "aimaas",
            "chat",
            "gemma-3-270m",
            "--url",
            live_server.url,
            "--api-key",
            live_server.admin_key,
        ],
        input="hi\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 1
    assert "/v1/completions" in result.stderr and "Traceback" not in result.stderr

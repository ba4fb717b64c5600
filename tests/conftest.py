"""Fixtures for in-process tests: a real app on a real SQLite file in a temp directory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aimaas.config import Settings, load_settings
from aimaas.process import configure_process
from aimaas.registry.db import Database
from aimaas.security.bootstrap import ensure_admin_key
from aimaas.server.app import create_app
from tests import tier
from tests.e2e.server import LiveServer, start_server

# The test process is set up as every aimaas process is (offline: before any test imports
# huggingface_hub); torch keeps its default thread count.
configure_process(threads=0)

# The fast tier (``make test-fast``: ``pytest -m "not e2e"``) is every test that starts no
# process of ours: no ``aimaas serve``, no CLI run, no PostgreSQL, no llama-server build.
# Tests under tests/e2e and those using a process fixture are marked here; the rest mark
# themselves, and ``tests.tier`` fails one that starts a process in the fast tier unmarked.
_E2E_FIXTURES = frozenset({"live_server", "pg_url"})


def pytest_configure(config: pytest.Config) -> None:
    tier.fast = config.option.markexpr.replace(" ", "") == "note2e"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        uses = set(getattr(item, "fixturenames", ()))
        if module.startswith("tests/e2e/") or uses & _E2E_FIXTURES:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's AIMAAS_* settings or writes to ./data."""
    import os

    for name in list(os.environ):
        if name.startswith("AIMAAS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """A migrated registry on a real SQLite file, ``r.db`` in the test's folder."""
    database = Database(f"sqlite:///{tmp_path / 'r.db'}")
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = load_settings(data_dir=tmp_path / "data")
    settings.server.access_log = False
    settings.server.allowed_hosts.append("testserver")  # the Host TestClient sends
    return settings


@dataclass
class Api:
    """A running in-process app and an admin key for it."""

    client: TestClient
    admin_key: str
    settings: Settings

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.admin_key}"}

    def create_tenant(self, name: str) -> dict[str, str]:
        response = self.client.post("/v1/admin/tenants", json={"name": name}, headers=self.auth())
        assert response.status_code == 201, response.text
        return dict(response.json())

    def create_key(self, tenant: str, scopes: list[str], **extra: object) -> dict[str, object]:
        body = {"tenant": tenant, "scopes": scopes, **extra}
        response = self.client.post("/v1/admin/keys", json=body, headers=self.auth())
        assert response.status_code == 201, response.text
        return dict(response.json())


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        admin_key = ensure_admin_key(app.state.services.db, settings.storage.admin_key_file)
        assert admin_key is not None
        yield Api(client=client, admin_key=admin_key, settings=settings)


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    """``aimaas serve`` as a real process on a free port, logging JSON lines."""
    with start_server(tmp_path / "data", args=["--log-format", "json"]) as server:
        yield server

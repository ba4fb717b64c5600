"""A job service over a real SQLite registry and artifact store, with the tests' kinds."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from aimaas.config import Settings
from aimaas.jobs.kinds import JobKinds
from aimaas.jobs.service import JobService
from aimaas.registry import repository
from aimaas.registry.db import Database
from aimaas.registry.store import ArtifactStore, PlainStore
from tests.jobs import COUNT


@pytest.fixture
def store(tmp_path: Path, db: Database) -> ArtifactStore:
    store = PlainStore(tmp_path / "artifacts")
    store.prepare()
    return store


@pytest.fixture
def tenant(db: Database) -> str:
    with db.session() as session:
        return repository.create_tenant(session, name="acme").id


@pytest.fixture
def woken() -> list[int]:
    return []


@pytest.fixture
def service(settings: Settings, db: Database, store: ArtifactStore, woken: list[int]) -> JobService:
    return JobService(settings, db, store, wake=lambda: woken.append(1))


@pytest.fixture
def kinds() -> JobKinds:
    return JobKinds([COUNT])


@pytest.fixture
def sigterm_restored() -> Iterator[None]:
    """run_job installs its SIGTERM handler in this process: put pytest's back after."""
    previous = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, previous)

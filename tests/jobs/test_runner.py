"""The job runner on a real registry, with a stand-in worker: a small Python module run as
``python -m`` like the real one (it records the settings it was sent on stdin, then exits
with a given code, or waits on FIFOs the test controls). Queued jobs are claimed and
started; a worker that dies without recording an end fails its job; one that recorded its
end is left alone; jobs left running go back to the queue at start; stop ends the workers
and requeues their jobs."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from pydantic import SecretStr

from aimaas.config import Settings
from aimaas.crypto import new_key_text
from aimaas.jobs.runner import JobRunner
from aimaas.jobs.service import JobService
from aimaas.registry import jobs
from aimaas.registry.db import Database
from tests.jobs import COUNT, CountRequest, claim

WORKER = """
import sys
job_id = sys.argv[1]
with open(f"{job_id}.stdin", "w") as out:
    out.write(sys.stdin.read())
mode = open("mode").read().strip()
if mode == "handshake":
    with open("started", "w") as started:
        started.write(job_id)
    with open("release") as release:
        sys.exit(int(release.read() or 0))
sys.exit(int(mode))
"""
LIMIT = 60.0  # seconds: a worker that never shows up fails the test instead of hanging it


@pytest.fixture
def worker(tmp_path: Path) -> Callable[[str], None]:
    """Install the stand-in worker (the test's working folder is ``tmp_path``) in ``mode``:
    an exit code, or "handshake"."""
    assert Path.cwd() == tmp_path
    (tmp_path / "fake_worker.py").write_text(WORKER)

    def mode(value: str) -> None:
        (tmp_path / "mode").write_text(value)
        if value == "handshake":
            os.mkfifo(tmp_path / "started")
            os.mkfifo(tmp_path / "release")

    return mode


def runner(settings: Settings, db: Database, on_end: Callable[[], None]) -> JobRunner:
    return JobRunner(settings, db, kinds=[COUNT.name], worker_module="fake_worker",
                     on_job_end=on_end)  # fmt: skip


def read_fifo(path: Path) -> str:
    with open(path) as fifo:
        return fifo.read()


def write_fifo(path: Path, text: str) -> None:
    with open(path, "w") as fifo:
        fifo.write(text)


def status(db: Database, job_id: str) -> tuple[str, str | None, int]:
    with db.session() as session:
        job = jobs.get_job(session, job_id=job_id, tenant_id=None)
        return job.status, job.error, job.attempts


def within_limit(scenario: Callable[[], Awaitable[None]]) -> None:
    async def limited() -> None:
        async with asyncio.timeout(LIMIT):
            await scenario()

    asyncio.run(limited())


def test_a_worker_that_dies_without_an_end_fails_its_job(
    settings: Settings, db: Database, service: JobService, tenant: str,
    worker: Callable[[str], None], tmp_path: Path,
) -> None:  # fmt: skip
    worker("3")
    key = new_key_text()
    settings.security.master_key = SecretStr(key)
    job = service.create(COUNT, tenant, CountRequest(n=1))

    async def scenario() -> None:
        ended = asyncio.Event()
        jobs_runner = runner(settings, db, ended.set)
        await jobs_runner.start()
        await ended.wait()
        assert jobs_runner.running == []
        await jobs_runner.stop()

    within_limit(scenario)
    assert status(db, job.id) == (
        "failed", "The count worker exited unexpectedly (code 3).", 1
    )  # fmt: skip
    # The settings went over the pipe, the master key with them.
    sent = Settings.model_validate_json((tmp_path / f"{job.id}.stdin").read_text())
    assert sent.security.master_key is not None
    assert sent.security.master_key.get_secret_value() == key
    assert sent.storage.data_dir == settings.storage.data_dir


def test_a_worker_that_recorded_its_end_is_left_alone(
    settings: Settings, db: Database, service: JobService, tenant: str,
    worker: Callable[[str], None], tmp_path: Path,
) -> None:  # fmt: skip
    worker("handshake")
    job = service.create(COUNT, tenant, CountRequest(n=1))

    async def scenario() -> None:
        ended = asyncio.Event()
        jobs_runner = runner(settings, db, ended.set)
        await jobs_runner.start()
        assert await asyncio.to_thread(read_fifo, tmp_path / "started") == job.id
        assert jobs_runner.running == [job.id]
        assert status(db, job.id)[0] == "running"
        with db.session() as session:  # what the real worker does before it exits
            row = jobs.get_job(session, job_id=job.id, tenant_id=None)
            jobs.finish(session, row, status="succeeded", result={"total": 1})
        await asyncio.to_thread(write_fifo, tmp_path / "release", "0")
        await ended.wait()
        assert jobs_runner.running == []
        await jobs_runner.stop()

    within_limit(scenario)
    assert status(db, job.id) == ("succeeded", None, 1)


def test_jobs_left_running_are_resumed_at_start(
    settings: Settings, db: Database, service: JobService, tenant: str,
    worker: Callable[[str], None], caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    worker("0")
    job = service.create(COUNT, tenant, CountRequest(n=1))
    assert claim(db) == job.id  # a server that died with the job running

    async def scenario() -> None:
        ended = asyncio.Event()
        jobs_runner = runner(settings, db, ended.set)
        with caplog.at_level(logging.INFO, logger="aimaas.jobs"):
            await jobs_runner.start()
        assert f"resuming 1 job(s) left running: {job.id}" in caplog.text
        await ended.wait()
        await jobs_runner.stop()

    within_limit(scenario)
    # Claimed again (a second attempt); its stand-in exited 0 without recording an end.
    assert status(db, job.id) == ("failed", "The count worker exited unexpectedly (code 0).", 2)


def test_stop_ends_the_workers_and_puts_their_jobs_back_in_the_queue(
    settings: Settings, db: Database, service: JobService, tenant: str,
    worker: Callable[[str], None], tmp_path: Path,
) -> None:  # fmt: skip
    worker("handshake")
    job = service.create(COUNT, tenant, CountRequest(n=1))
    ends: list[int] = []

    async def scenario() -> None:
        jobs_runner = runner(settings, db, lambda: ends.append(1))
        await jobs_runner.start()
        assert await asyncio.to_thread(read_fifo, tmp_path / "started") == job.id
        await jobs_runner.stop(timeout=10.0)  # the stand-in waits on "release" forever
        assert jobs_runner.running == []

    within_limit(scenario)
    assert status(db, job.id)[0] == "queued" and ends == []

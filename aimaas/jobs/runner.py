"""Runs queued jobs in worker processes, a bounded number at a time.

Lives in the API process, on its event loop. Workers are started from the loop's thread
with a parent-death signal, so they die with the server even after ``kill -9``; at the next
start, jobs left ``running`` go back to the queue and resume from their checkpoints. A worker
that dies on its own (a crash, the OOM killer) fails its job: no job stays ``running``
without a worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

from starlette.concurrency import run_in_threadpool

from aimaas.config import Settings
from aimaas.registry import jobs
from aimaas.registry.db import Database
from aimaas.subprocesses import die_with_parent

log = logging.getLogger("aimaas.jobs")


class JobRunner:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        kinds: Sequence[str],
        worker_module: str,  # run as ``python -m worker_module JOB_ID``: jobs.worker.main
        on_job_end: Callable[[], None] = lambda: None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.kinds = tuple(kinds)
        self.worker_module = worker_module
        self.on_job_end = on_job_end
        self.capacity = settings.training.workers
        self._workers: dict[str, subprocess.Popen[bytes]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> list[str]:
        return list(self._workers)

    async def start(self) -> None:
        requeued = await run_in_threadpool(self._requeue_orphans)
        if requeued:
            log.info("resuming %d job(s) left running: %s", len(requeued), ", ".join(requeued))
        self._task = asyncio.create_task(self._loop())

    def wake(self) -> None:
        """Look for queued jobs now (call from the event loop's thread)."""
        self._wake.set()

    def _requeue_orphans(self) -> list[str]:
        with self.db.session() as session:
            return jobs.requeue_orphans(session, kinds=self.kinds)

    def _claim(self) -> str | None:
        with self.db.session() as session:
            job = jobs.claim_next(session, kinds=self.kinds)
            return None if job is None else job.id

    async def _loop(self) -> None:
        while True:
            try:
                if await run_in_threadpool(self._reap):
                    self.on_job_end()
                while len(self._workers) < self.capacity:
                    job_id = await run_in_threadpool(self._claim)
                    if job_id is None:
                        break
                    self._spawn(job_id)  # on the loop's thread: see die_with_parent
            except Exception:
                log.exception("job runner step failed; retrying")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.5):  # not wait_for: it can swallow a cancel
                    await self._wake.wait()
            self._wake.clear()

    def _spawn(self, job_id: str) -> None:
        process = subprocess.Popen(
            [sys.executable, "-m", self.worker_module, job_id],
            stdin=subprocess.PIPE,
            preexec_fn=die_with_parent,
        )
        assert process.stdin is not None
        # The master key (if any) goes with the settings, over the pipe only.
        secrets = {"reveal_secrets": True}
        process.stdin.write(self.settings.model_dump_json(context=secrets).encode())
        process.stdin.close()
        self._workers[job_id] = process
        log.info("job %s started in worker %d", job_id, process.pid)

    def _reap(self) -> int:
        """Forget workers that ended (failing a job left running); how many ended."""
        ended = 0
        for job_id, process in list(self._workers.items()):
            code = process.poll()
            if code is None:
                continue
            ended += 1
            del self._workers[job_id]
            with self.db.session() as session:
                job = jobs.get_job(session, job_id=job_id, tenant_id=None)
                if job.status == "running":  # the worker died without recording an end
                    log.error("worker of job %s exited with %d", job_id, code)
                    jobs.finish(
                        session,
                        job,
                        status="failed",
                        error=f"The {job.kind} worker exited unexpectedly (code {code}).",
                    )
        return ended

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop; ask workers to stop (their jobs go back to the queue)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await run_in_threadpool(self._stop_workers, timeout)

    def _stop_workers(self, timeout: float) -> None:
        for process in self._workers.values():
            process.terminate()
        deadline = time.monotonic() + timeout
        for process in self._workers.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        with self.db.session() as session:
            for job_id in self._workers:
                job = jobs.get_job(session, job_id=job_id, tenant_id=None)
                jobs.requeue(session, job)
        self._workers.clear()

"""One training job in its own process: ``python -m aimaas.learn.worker JOB_ID``, with the
server's settings as JSON on stdin.

The worker owns its job from ``running`` to the end: it writes progress events, a
checkpoint every epoch, and finally the new model version and the job's result in one
transaction. SIGTERM (the server shutting down) stops it between steps and puts the job
back in the queue; it resumes from its last checkpoint at the next start. A cancel request
(a flag in the registry, read every half second) ends it as ``cancelled``.
"""

from __future__ import annotations

import logging
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

import torch

from aimaas.config import Settings
from aimaas.errors import AimaasError
from aimaas.learn import artifacts, trainer
from aimaas.learn.inputs import load_training_data
from aimaas.observability.logging import configure_logging
from aimaas.registry import jobs, repository
from aimaas.registry.db import Database
from aimaas.registry.store import ArtifactStore

log = logging.getLogger("aimaas.training")
KIND = "training"
MODEL_FORMAT = "aimaas-torch"


def checkpoint_dir(settings: Settings, job_id: str) -> Path:
    return settings.storage.data_dir / "jobs" / job_id / "checkpoint"


class _StopCheck:
    """``should_stop`` for the trainer: SIGTERM at once, a cancel flag within 0.5 s."""

    def __init__(self, db: Database, job_id: str) -> None:
        self.db = db
        self.job_id = job_id
        self.terminated = threading.Event()
        self._checked = 0.0
        self.cancelled = False

    def on_sigterm(self, _signum: int, _frame: FrameType | None) -> None:
        self.terminated.set()

    def __call__(self) -> bool:
        if self.terminated.is_set():
            return True
        now = time.monotonic()
        if now - self._checked > 0.5:
            self._checked = now
            with self.db.session() as session:
                self.cancelled = jobs.cancel_requested(session, job_id=self.job_id)
        return self.cancelled


def run_job(settings: Settings, db: Database, store: ArtifactStore, job_id: str) -> str:
    """Train, register and record; returns the job's status when the worker ends."""
    with db.session() as session:
        job = jobs.get_job(session, job_id=job_id, tenant_id=None, kind=KIND)
        if job.status != "running":
            return job.status
        tenant_id, spec, attempts = job.tenant_id, dict(job.spec), job.attempts
    stop = _StopCheck(db, job_id)
    signal.signal(signal.SIGTERM, stop.on_sigterm)

    def on_event(event: dict[str, Any]) -> None:
        with db.session() as session:
            jobs.add_event(session, job_id=job_id, data=event)

    folder = checkpoint_dir(settings, job_id)
    on_event({"type": "status", "status": "running", "attempt": attempts})
    try:
        inputs = load_training_data(db, store, tenant_id=tenant_id, spec=spec)
        result = trainer.train(
            spec["algorithm"],
            inputs.train,
            inputs.validation,
            spec["hyperparameters"],
            seed=spec["seed"],
            checkpoint_dir=folder,
            on_event=on_event,
            should_stop=stop,
        )
        weights, description = artifacts.save(result)
        files = {
            "model.safetensors": store.put_bytes(weights),
            "model.json": store.put_bytes(description),
        }
    except trainer.Cancelled:
        with db.session() as session:
            job = jobs.get_job(session, job_id=job_id, tenant_id=None, kind=KIND)
            if stop.terminated.is_set() and not job.cancel_requested:
                jobs.requeue(session, job)
                return "queued"
            jobs.finish(session, job, status="cancelled")
        shutil.rmtree(folder.parent, ignore_errors=True)
        return "cancelled"
    except Exception as exc:
        if isinstance(exc, AimaasError):
            message = exc.message
        else:
            log.exception("training job %s failed", job_id)
            message = f"Training failed with {type(exc).__name__}; the server log has details."
        with db.session() as session:
            job = jobs.get_job(session, job_id=job_id, tenant_id=None, kind=KIND)
            jobs.finish(session, job, status="failed", error=message)
        return "failed"
    with db.session() as session:
        model, version = repository.register_model(
            session,
            tenant_id=tenant_id,
            name=spec["model"],
            task=str(result.spec.get("task", "classification")),
            format=MODEL_FORMAT,
            artifact_digest=files["model.safetensors"],
            details={
                "files": files,
                "algorithm": spec["algorithm"],
                "hyperparameters": spec["hyperparameters"],
                "seed": spec["seed"],
                "datasets": inputs.file_ids,
                "metrics": result.metrics,
                "job": job_id,
            },
        )
        job = jobs.get_job(session, job_id=job_id, tenant_id=None, kind=KIND)
        jobs.finish(
            session,
            job,
            status="succeeded",
            result={"model": model.name, "version": version.version, "metrics": result.metrics},
        )
    shutil.rmtree(folder.parent, ignore_errors=True)
    return "succeeded"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m aimaas.learn.worker JOB_ID < settings.json", file=sys.stderr)
        return 2
    settings = Settings.model_validate_json(sys.stdin.read())
    configure_logging(fmt=settings.server.log_format, level=settings.server.log_level)
    if settings.training.threads:
        torch.set_num_threads(settings.training.threads)
    db = Database(settings.resolved_database_url)
    try:
        status = run_job(settings, db, ArtifactStore(settings.storage.artifacts_dir), argv[1])
    finally:
        db.dispose()
    log.info("training job %s ended %s", argv[1], status)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

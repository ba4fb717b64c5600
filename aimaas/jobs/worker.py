"""One job in its own process, with the server's settings as JSON on stdin: the process
entry point is ``aimaas.server.worker``, which knows the server's job kinds.

The worker owns its job from ``running`` to the end. The handler of the job's kind does the
work (writing progress events and checkpoints through its context); its ``Finalize`` step
records what it made (a model version, say) in the same transaction that marks the job
succeeded. SIGTERM (the server shutting down) stops it between steps and puts the job back
in the queue, to resume from its checkpoint at the next start; a cancel request ends it as
``cancelled``; an error ends it as ``failed`` with a message safe to show.
"""

from __future__ import annotations

import logging
import shutil
import signal
import sys

from aimaas.config import Settings
from aimaas.errors import AimaasError
from aimaas.jobs.context import Cancelled, JobContext
from aimaas.jobs.kinds import JobKinds
from aimaas.observability.logging import configure_logging
from aimaas.process import configure_process
from aimaas.registry import jobs
from aimaas.registry.db import Database
from aimaas.registry.store import ArtifactStore, open_store

log = logging.getLogger("aimaas.jobs")


def run_job(
    settings: Settings, db: Database, store: ArtifactStore, job_id: str, kinds: JobKinds
) -> str:
    """Run the job to its end; returns its status when the worker is done with it."""
    with db.session() as session:
        job = jobs.get_job(session, job_id=job_id, tenant_id=None)
        if job.status != "running":
            return job.status
        kind = kinds.get(job.kind)
        context = JobContext(
            settings=settings,
            db=db,
            store=store,
            job_id=job_id,
            kind=job.kind,
            tenant_id=job.tenant_id,
            spec=kind.spec.model_validate(job.spec),
            attempts=job.attempts,
        )
    signal.signal(signal.SIGTERM, context.on_sigterm)
    context.event({"type": "status", "status": "running", "attempt": context.attempts})
    try:
        finalize = kind.handler(context)
    except Cancelled:
        with db.session() as session:
            job = jobs.get_job(session, job_id=job_id, tenant_id=None)
            if context.terminated.is_set() and not job.cancel_requested:
                jobs.requeue(session, job)
                return "queued"
            jobs.finish(session, job, status="cancelled")
        shutil.rmtree(context.workdir, ignore_errors=True)
        return "cancelled"
    except Exception as exc:
        if isinstance(exc, AimaasError):
            message = exc.message
        else:
            log.exception("%s job %s failed", context.kind, job_id)
            message = f"The job failed with {type(exc).__name__}; the server log has details."
        with db.session() as session:
            job = jobs.get_job(session, job_id=job_id, tenant_id=None)
            jobs.finish(session, job, status="failed", error=message)
        shutil.rmtree(context.workdir, ignore_errors=True)
        return "failed"
    with db.session() as session:
        result = finalize(session)
        job = jobs.get_job(session, job_id=job_id, tenant_id=None)
        jobs.finish(session, job, status="succeeded", result=result.model_dump(mode="json"))
    shutil.rmtree(context.workdir, ignore_errors=True)
    return "succeeded"


def main(argv: list[str], kinds: JobKinds, *, program: str) -> int:
    """The worker process of ``program`` (the module run with ``python -m``)."""
    if len(argv) != 2:
        print(f"usage: python -m {program} JOB_ID < settings.json", file=sys.stderr)
        return 2
    settings = Settings.model_validate_json(sys.stdin.read())
    configure_logging(fmt=settings.server.log_format, level=settings.server.log_level)
    configure_process(threads=settings.training.threads)  # before the handler loads a thing
    db = Database(settings.resolved_database_url)
    try:
        status = run_job(settings, db, open_store(settings, db), argv[1], kinds)
    finally:
        db.dispose()
    log.info("job %s ended %s", argv[1], status)
    return 0

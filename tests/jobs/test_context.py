"""What a handler gets in its worker: events written to the job, a stop seen at once after
SIGTERM and within half a second of a cancel request (the registry asked at most that
often), its scratch folder, and its scratch files sealed under the master key when
encryption at rest is on."""

from __future__ import annotations

import signal

import pytest
from pydantic import SecretStr

from aimaas.config import Settings
from aimaas.crypto import IntegrityError, new_key_text
from aimaas.jobs.context import Cancelled, JobContext
from aimaas.jobs.service import JobService
from aimaas.registry import jobs
from aimaas.registry.db import Database
from aimaas.registry.store import ArtifactStore
from tests.jobs import COUNT, CountRequest, CountSpec, claim


def context(
    settings: Settings, db: Database, store: ArtifactStore, service: JobService, tenant: str
) -> JobContext[CountSpec]:
    job = service.create(COUNT, tenant, CountRequest(n=1))
    assert claim(db) == job.id
    return JobContext(
        settings=settings, db=db, store=store, job_id=job.id, kind=COUNT.name,
        tenant_id=tenant, spec=CountSpec(n=1, then="finish", tenant=tenant), attempts=1,
    )  # fmt: skip


def test_events_are_written_to_the_job_in_order(
    settings: Settings, db: Database, store: ArtifactStore, service: JobService, tenant: str
) -> None:
    ctx = context(settings, db, store, service, tenant)
    ctx.event({"type": "epoch", "epoch": 1, "loss": 0.5})
    ctx.event({"type": "epoch", "epoch": 2, "loss": 0.25})
    with db.session() as session:
        found = [e.data for e in jobs.list_events(session, job_id=ctx.job_id)]
    assert found[-2:] == [
        {"type": "epoch", "epoch": 1, "loss": 0.5},
        {"type": "epoch", "epoch": 2, "loss": 0.25},
    ]


def test_sigterm_stops_at_once(
    settings: Settings, db: Database, store: ArtifactStore, service: JobService, tenant: str
) -> None:
    ctx = context(settings, db, store, service, tenant)
    assert not ctx.should_stop()
    ctx.check_stop()  # nothing to stop for
    ctx.on_sigterm(signal.SIGTERM, None)
    assert ctx.terminated.is_set() and ctx.should_stop()
    with pytest.raises(Cancelled, match=f"^count job {ctx.job_id} was stopped$"):
        ctx.check_stop()
    with db.session() as session:  # a signal is not a cancel request
        assert not jobs.cancel_requested(session, job_id=ctx.job_id)


def test_a_cancel_request_is_seen_and_the_registry_asked_at_most_every_half_second(
    settings: Settings, db: Database, store: ArtifactStore, service: JobService, tenant: str
) -> None:
    early = context(settings, db, store, service, tenant)
    service.cancel(COUNT, tenant, early.job_id)
    assert early.should_stop()  # the first check asks the registry
    with pytest.raises(Cancelled):
        early.check_stop()
    late = context(settings, db, store, service, tenant)
    assert not late.should_stop()
    service.cancel(COUNT, tenant, late.job_id)
    assert not late.should_stop()  # asked just now: the answer is kept for half a second
    assert not late.terminated.is_set()


def test_the_scratch_folder_is_the_jobs_own(
    settings: Settings, db: Database, store: ArtifactStore, service: JobService, tenant: str
) -> None:
    a = context(settings, db, store, service, tenant)
    b = context(settings, db, store, service, tenant)
    assert a.workdir == settings.storage.data_dir / "jobs" / a.job_id
    assert a.workdir != b.workdir
    assert not a.workdir.exists()  # made by the handler that needs it


def test_scratch_files_are_plain_without_a_master_key_and_sealed_with_one(
    settings: Settings, db: Database, store: ArtifactStore, service: JobService, tenant: str
) -> None:
    ctx = context(settings, db, store, service, tenant)
    folder = ctx.workdir / "checkpoint"
    assert ctx.sealed_files(folder) is None
    settings.security.master_key = SecretStr(new_key_text())
    sealed = ctx.sealed_files(folder)
    assert sealed is not None
    secret = b"weights of epoch 3"
    data = sealed.seal(secret, "epoch-3")
    assert secret not in data and sealed.unseal(data, "epoch-3") == secret
    again = ctx.sealed_files(folder)  # the folder's key, unwrapped again
    assert again is not None and again.unseal(data, "epoch-3") == secret
    other = context(settings, db, store, service, tenant)
    with pytest.raises(IntegrityError, match="does not unwrap"):  # the key is this job's
        other.sealed_files(folder)

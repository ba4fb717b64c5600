"""A job run to its end in this process, as a worker runs it: succeeded with its result
and its Finalize rows in one transaction, failed with a message safe to show, cancelled
on request, or back in the queue after SIGTERM."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from aimaas.config import Settings
from aimaas.jobs.kinds import JobKinds
from aimaas.jobs.service import JobService
from aimaas.jobs.worker import run_job
from aimaas.registry import jobs
from aimaas.registry.db import Database
from aimaas.registry.store import ArtifactStore
from aimaas.registry.tables import Tenant
from tests.jobs import COUNT, CountRequest, claim

pytestmark = pytest.mark.usefixtures("sigterm_restored")


def run(
    settings: Settings, db: Database, store: ArtifactStore, kinds: JobKinds, job_id: str
) -> str:
    assert claim(db) == job_id
    return run_job(settings, db, store, job_id, kinds)


def statuses(db: Database, job_id: str) -> list[str]:
    with db.session() as session:
        return [
            e.data.get("status") or e.data["type"] for e in jobs.list_events(session, job_id=job_id)
        ]


def test_a_job_succeeds_with_its_result_and_what_it_recorded(
    settings: Settings, db: Database, store: ArtifactStore, kinds: JobKinds,
    service: JobService, tenant: str,
) -> None:  # fmt: skip
    job = service.create(COUNT, tenant, CountRequest(n=2))
    assert run(settings, db, store, kinds, job.id) == "succeeded"
    done = service.get(COUNT, tenant, job.id)
    assert done.status == "succeeded" and done.total == 2
    assert statuses(db, job.id) == ["queued", "running", "count", "count", "succeeded"]
    with db.session() as session:
        recorded = session.scalar(select(Tenant).where(Tenant.name == f"counted-{job.id[-6:]}"))
        assert recorded is not None
        assert jobs.get_job(session, job_id=job.id, tenant_id=None).result == {"total": 2}
    assert not (settings.storage.data_dir / "jobs" / job.id).exists()


def test_a_domain_error_fails_the_job_with_its_message(
    settings: Settings, db: Database, store: ArtifactStore, kinds: JobKinds,
    service: JobService, tenant: str,
) -> None:  # fmt: skip
    job = service.create(COUNT, tenant, CountRequest(n=1, then="fail"))
    assert run(settings, db, store, kinds, job.id) == "failed"
    failed = service.record(COUNT, tenant, job.id)
    assert failed.error == "counting failed on purpose" and failed.result is None


def test_an_unexpected_error_fails_the_job_without_its_details(
    settings: Settings, db: Database, store: ArtifactStore, kinds: JobKinds,
    service: JobService, tenant: str, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    job = service.create(COUNT, tenant, CountRequest(n=0, then="crash"))
    assert run(settings, db, store, kinds, job.id) == "failed"
    error = service.record(COUNT, tenant, job.id).error
    assert error == "The job failed with RuntimeError; the server log has details."
    assert "/secret/path" in caplog.text  # in the log, never in the job


def test_a_cancel_request_stops_a_running_job(
    settings: Settings, db: Database, store: ArtifactStore, kinds: JobKinds,
    service: JobService, tenant: str,
) -> None:  # fmt: skip
    job = service.create(COUNT, tenant, CountRequest(n=0, then="wait_for_cancel"))
    assert claim(db) == job.id
    service.cancel(COUNT, tenant, job.id)  # recorded; the handler sees it at its next check
    assert run_job(settings, db, store, job.id, kinds) == "cancelled"
    assert service.get(COUNT, tenant, job.id).status == "cancelled"


def test_sigterm_puts_the_job_back_in_the_queue(
    settings: Settings, db: Database, store: ArtifactStore, kinds: JobKinds,
    service: JobService, tenant: str,
) -> None:  # fmt: skip
    job = service.create(COUNT, tenant, CountRequest(n=1, then="sigterm"))
    assert run(settings, db, store, kinds, job.id) == "queued"
    assert service.get(COUNT, tenant, job.id).status == "queued"
    assert run(settings, db, store, kinds, job.id) == "queued"  # resumes: same spec again
    with db.session() as session:
        assert jobs.get_job(session, job_id=job.id, tenant_id=None).attempts == 2


def test_a_job_no_longer_running_is_left_alone(
    settings: Settings, db: Database, store: ArtifactStore, kinds: JobKinds,
    service: JobService, tenant: str,
) -> None:  # fmt: skip
    job = service.create(COUNT, tenant, CountRequest(n=1))
    service.cancel(COUNT, tenant, job.id)
    assert run_job(settings, db, store, job.id, kinds) == "cancelled"
    assert statuses(db, job.id) == ["queued", "cancelled"]

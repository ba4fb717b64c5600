"""Jobs in the registry (aimaas/registry/jobs.py) on a real SQLite registry: creation and
lookup by tenant and kind, claiming the oldest queued job, cancelling, finishing with an
event, requeueing after a stop or a crash, and the event log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from aimaas.errors import NotFound
from aimaas.registry import jobs, repository
from aimaas.registry.db import Database
from aimaas.registry.tables import Job


def _tenants(session: Session) -> tuple[str, str]:
    return (
        repository.create_tenant(session, name="acme").id,
        repository.create_tenant(session, name="globex").id,
    )


def test_a_job_is_found_only_by_its_tenant_and_kind(db: Database) -> None:
    with db.session() as session:
        acme, globex = _tenants(session)
        job = jobs.create_job(session, tenant_id=acme, kind="training", spec={"x": 1})
        assert job.id.startswith("job-") and job.status == "queued" and job.spec == {"x": 1}
        assert jobs.get_job(session, job_id=job.id, tenant_id=acme).id == job.id
        assert jobs.get_job(session, job_id=job.id, tenant_id=None, kind="training") is job
        with pytest.raises(NotFound) as other_tenant:
            jobs.get_job(session, job_id=job.id, tenant_id=globex)
        assert other_tenant.value.param == "job_id"
        assert str(other_tenant.value) == f"No job {job.id!r}."
        with pytest.raises(NotFound) as other_kind:
            jobs.get_job(session, job_id=job.id, tenant_id=acme, kind="evaluation")
        assert str(other_kind.value) == f"No evaluation job {job.id!r}."
        with pytest.raises(NotFound):
            jobs.get_job(session, job_id="job-nope", tenant_id=None)


def test_list_jobs_by_kind_and_tenant_newest_first(db: Database) -> None:
    with db.session() as session:
        acme, globex = _tenants(session)
        made = [
            jobs.create_job(session, tenant_id=acme, kind="training", spec={}) for _ in range(3)
        ]
        jobs.create_job(session, tenant_id=acme, kind="evaluation", spec={})
        theirs = jobs.create_job(session, tenant_id=globex, kind="training", spec={})
        listed = jobs.list_jobs(session, tenant_id=acme, kind="training")
        assert {j.id for j in listed} == {j.id for j in made}
        times = [j.created_at for j in listed]
        assert times == sorted(times, reverse=True)
        assert len(jobs.list_jobs(session, tenant_id=acme, kind="training", limit=2)) == 2
        everyone = jobs.list_jobs(session, tenant_id=None, kind="training")
        assert theirs.id in {j.id for j in everyone} and len(everyone) == 4


def test_claim_next_takes_the_oldest_queued_job_of_the_kinds(db: Database) -> None:
    with db.session() as session:
        acme, _ = _tenants(session)
        first = jobs.create_job(session, tenant_id=acme, kind="training", spec={})
        second = jobs.create_job(session, tenant_id=acme, kind="training", spec={})
        second.created_at = first.created_at + timedelta(seconds=1)  # the order is certain
        jobs.create_job(session, tenant_id=acme, kind="evaluation", spec={})
    with db.session() as session:
        assert jobs.claim_next(session, kinds=["optimization"]) is None
        claimed = jobs.claim_next(session, kinds=["training"])
        assert claimed is not None and claimed.id == first.id
        assert claimed.status == "running" and claimed.attempts == 1
        assert claimed.started_at is not None
        started = claimed.started_at
    with db.session() as session:
        again = jobs.claim_next(session, kinds=["training"])
        assert again is not None and again.id == second.id
        assert jobs.claim_next(session, kinds=["training"]) is None  # none queued
        # Requeued after a crash, a job is claimed again: its first start is kept.
        assert sorted(jobs.requeue_orphans(session, kinds=["training"])) == sorted(
            [first.id, second.id]
        )
        assert jobs.requeue_orphans(session, kinds=["training"]) == []
    with db.session() as session:
        resumed = jobs.claim_next(session, kinds=["training"])
        assert resumed is not None and resumed.id == first.id
        assert resumed.attempts == 2 and resumed.started_at == started


def test_cancel_a_queued_job_at_once_and_a_running_one_by_request(db: Database) -> None:
    with db.session() as session:
        acme, _ = _tenants(session)
        queued = jobs.create_job(session, tenant_id=acme, kind="training", spec={})
        running = jobs.create_job(session, tenant_id=acme, kind="training", spec={})
        running.status = "running"
        session.flush()
        jobs.request_cancel(session, queued)
        jobs.request_cancel(session, running)
        assert queued.status == "cancelled" and queued.finished_at is not None
        assert running.status == "running" and running.cancel_requested
        assert jobs.cancel_requested(session, job_id=running.id)
        assert not jobs.cancel_requested(session, job_id=queued.id)
        assert not jobs.cancel_requested(session, job_id="job-nope")
        jobs.finish(session, running, status="succeeded", result={"ok": True})
        jobs.request_cancel(session, running)  # finished: nothing changes
        assert running.status == "succeeded"


def test_finish_records_the_outcome_and_a_status_event(db: Database) -> None:
    with db.session() as session:
        acme, _ = _tenants(session)
        job = jobs.create_job(session, tenant_id=acme, kind="training", spec={})
        jobs.add_event(session, job_id=job.id, data={"type": "progress", "step": 1})
        jobs.finish(session, job, status="failed", error="out of memory")
    with db.session() as session:
        row = session.get(Job, job.id)
        assert row is not None and row.status == "failed" and row.error == "out of memory"
        assert row.result is None and row.finished_at is not None
        events = jobs.list_events(session, job_id=job.id)
        assert [e.data for e in events] == [
            {"type": "progress", "step": 1},
            {"type": "status", "status": "failed", "error": "out of memory"},
        ]
        later = jobs.list_events(session, job_id=job.id, after=events[0].id)
        assert [e.id for e in later] == [events[1].id]
        assert jobs.list_events(session, job_id="job-nope") == []


def test_requeue_moves_only_a_running_job_back(db: Database) -> None:
    with db.session() as session:
        acme, _ = _tenants(session)
        job = jobs.create_job(session, tenant_id=acme, kind="training", spec={})
        jobs.requeue(session, job)
        assert job.status == "queued"
        job.status = "running"
        jobs.requeue(session, job)
        assert job.status == "queued"
        jobs.finish(session, job, status="cancelled")
        jobs.requeue(session, job)
        assert job.status == "cancelled"
        assert set(jobs.TERMINAL) == {"succeeded", "failed", "cancelled"}

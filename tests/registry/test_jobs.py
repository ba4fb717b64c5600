"""The job queue in the registry: claimed once each, oldest first, per kind; cancel, finish
and requeue move a job as the worker and the API expect; events come back in order."""

from __future__ import annotations

import pytest

from aimaas.errors import NotFound
from aimaas.registry import jobs, repository
from aimaas.registry.db import Database


def _tenant(db: Database, name: str = "acme") -> str:
    with db.session() as session:
        return repository.create_tenant(session, name=name).id


def test_jobs_are_claimed_oldest_first_once_each_and_by_kind(db: Database) -> None:
    tenant = _tenant(db)
    with db.session() as session:
        ids = [jobs.create_job(session, tenant_id=tenant, kind="training", spec={"n": i}).id
               for i in range(3)]  # fmt: skip
        jobs.create_job(session, tenant_id=tenant, kind="evaluation", spec={})
    claimed = []
    for _ in range(4):
        with db.session() as session:
            job = jobs.claim_next(session, kinds=["training"])
            claimed.append(None if job is None else (job.id, job.status, job.attempts))
    assert claimed == [(ids[0], "running", 1), (ids[1], "running", 1), (ids[2], "running", 1), None]


def test_another_tenants_or_kinds_job_is_not_found(db: Database) -> None:
    acme, globex = _tenant(db), _tenant(db, "globex")
    with db.session() as session:
        job_id = jobs.create_job(session, tenant_id=acme, kind="training", spec={}).id
    with db.session() as session:
        assert jobs.get_job(session, job_id=job_id, tenant_id=None).id == job_id
        for tenant, kind in ((globex, None), (acme, "evaluation")):
            with pytest.raises(NotFound):
                jobs.get_job(session, job_id=job_id, tenant_id=tenant, kind=kind)


def test_cancel_ends_a_queued_job_and_flags_a_running_one(db: Database) -> None:
    tenant = _tenant(db)
    with db.session() as session:
        queued = jobs.create_job(session, tenant_id=tenant, kind="training", spec={})
        running = jobs.create_job(session, tenant_id=tenant, kind="training", spec={})
        running.status = "running"
        jobs.request_cancel(session, queued)
        jobs.request_cancel(session, running)
        queued_id, running_id = queued.id, running.id
    with db.session() as session:
        assert jobs.get_job(session, job_id=queued_id, tenant_id=tenant).status == "cancelled"
        assert jobs.get_job(session, job_id=running_id, tenant_id=tenant).status == "running"
        assert jobs.cancel_requested(session, job_id=running_id)
        assert not jobs.cancel_requested(session, job_id=queued_id)
        events = jobs.list_events(session, job_id=queued_id)
        assert [e.data for e in events] == [
            {"type": "status", "status": "cancelled", "error": None}
        ]


def test_orphans_go_back_to_the_queue_and_events_page_by_id(db: Database) -> None:
    tenant = _tenant(db)
    with db.session() as session:
        job = jobs.create_job(session, tenant_id=tenant, kind="training", spec={})
        job_id = job.id
    with db.session() as session:
        assert jobs.claim_next(session, kinds=["training"]) is not None
    with db.session() as session:
        assert jobs.requeue_orphans(session, kinds=["training"]) == [job_id]
        for epoch in range(3):
            jobs.add_event(session, job_id=job_id, data={"type": "epoch", "epoch": epoch})
    with db.session() as session:
        again = jobs.claim_next(session, kinds=["training"])
        assert again is not None and again.attempts == 2  # a resumed attempt is counted
        events = jobs.list_events(session, job_id=job_id)
        later = jobs.list_events(session, job_id=job_id, after=events[0].id)
        assert [e.data["epoch"] for e in events] == [0, 1, 2]
        assert [e.data["epoch"] for e in later] == [1, 2]

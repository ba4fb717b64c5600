"""One job service for every kind: submit (validated once, queued, the runner woken),
get, list, cancel and events, each kind's 404 its own."""

from __future__ import annotations

import asyncio

import pytest

from aimaas.errors import InvalidInput, NotFound
from aimaas.jobs.service import JobService
from aimaas.registry import jobs, repository
from aimaas.registry.db import Database
from aimaas.registry.tables import Job
from tests.jobs import COUNT, CountRequest, CountSpec, claim


def test_submit_validates_once_stores_the_spec_and_wakes_the_runner(
    service: JobService, db: Database, tenant: str, woken: list[int]
) -> None:
    view = asyncio.run(service.submit(COUNT, tenant, CountRequest(n=2)))
    assert view.status == "queued" and view.n == 2 and view.total is None
    assert woken == [1]
    with db.session() as session:
        row = session.get(Job, view.id)
        assert row is not None and row.kind == "count"
        assert row.spec == {"n": 2, "then": "finish", "tenant": tenant}  # the spec's JSON
        assert [e.data for e in jobs.list_events(session, job_id=view.id)] == [
            {"type": "status", "status": "queued"}
        ]


def test_a_refused_request_creates_nothing(service: JobService, db: Database, tenant: str) -> None:
    with pytest.raises(InvalidInput, match="n must be at least 0") as refused:
        service.create(COUNT, tenant, CountRequest(n=-1))
    assert refused.value.param == "n"
    assert service.list(COUNT, tenant, limit=10) == []


def test_get_and_list_are_the_tenants_own(service: JobService, db: Database, tenant: str) -> None:
    first = service.create(COUNT, tenant, CountRequest(n=1))
    second = service.create(COUNT, tenant, CountRequest(n=2))
    assert service.get(COUNT, tenant, first.id) == first
    assert {v.id for v in service.list(COUNT, tenant, limit=10)} == {first.id, second.id}
    assert len(service.list(COUNT, tenant, limit=1)) == 1
    with db.session() as session:
        other = repository.create_tenant(session, name="other").id
    assert service.list(COUNT, other, limit=10) == []
    with pytest.raises(NotFound, match=f"No count '{first.id}'") as missing:
        service.get(COUNT, other, first.id)
    assert missing.value.param == "count_id"


def test_a_kind_without_its_own_404_says_which_kind(
    service: JobService, db: Database, tenant: str
) -> None:
    from aimaas.learn.job_kind import TRAINING

    counted = service.create(COUNT, tenant, CountRequest(n=1))
    with pytest.raises(NotFound, match=f"^No training job '{counted.id}'.$"):
        service.get(TRAINING, tenant, counted.id)  # a job of another kind is not found


def test_cancel_ends_a_queued_job_at_once_and_asks_a_running_one(
    service: JobService, db: Database, tenant: str
) -> None:
    queued = service.create(COUNT, tenant, CountRequest(n=1))
    assert service.cancel(COUNT, tenant, queued.id).status == "cancelled"
    assert service.cancel(COUNT, tenant, queued.id).status == "cancelled"  # and stays so
    running = service.create(COUNT, tenant, CountRequest(n=1))
    assert claim(db) == running.id
    assert service.cancel(COUNT, tenant, running.id).status == "running"
    with db.session() as session:
        assert jobs.cancel_requested(session, job_id=running.id)


def test_events_page_after_an_id_and_say_when_the_job_ended(
    service: JobService, db: Database, tenant: str
) -> None:
    job = service.create(COUNT, tenant, CountRequest(n=1))
    with db.session() as session:
        jobs.add_event(session, job_id=job.id, data={"type": "count", "i": 0})
    page, ended = service.events(COUNT, tenant, job.id)
    assert [(e.type, e.data) for e in page.data] == [
        ("status", {"status": "queued"}),
        ("count", {"i": 0}),
    ]
    assert not ended
    later, _ = service.events(COUNT, tenant, job.id, after=page.data[0].id)
    assert [e.type for e in later.data] == ["count"]
    service.cancel(COUNT, tenant, job.id)

    async def follow() -> list[str]:
        return [e.type async for e in service.follow(COUNT, tenant, job.id, after=page.data[1].id)]

    assert asyncio.run(follow()) == ["status"]  # the cancel, then the stream ends
    with pytest.raises(NotFound):
        service.events(COUNT, tenant, "job-nope")


def test_a_stored_spec_reads_back_as_it_was_validated(
    service: JobService, db: Database, tenant: str
) -> None:
    job = service.create(COUNT, tenant, CountRequest(n=4, then="fail"))
    record = service.record(COUNT, tenant, job.id)
    assert record.spec == CountSpec(n=4, then="fail", tenant=tenant)

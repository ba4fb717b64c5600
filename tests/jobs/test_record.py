"""A job record's state: what every job object shows of its row."""

from __future__ import annotations

from datetime import UTC, datetime

from aimaas.jobs.record import JobRecord
from tests.jobs import CountResult, CountSpec


def test_state_is_the_row_in_whole_seconds() -> None:
    created = datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)
    record: JobRecord[CountSpec, CountResult] = JobRecord(
        id="job-1", kind="count", tenant_id="t", status="running", created_at=created,
        started_at=created, finished_at=None, error=None, attempts=2,
        spec=CountSpec(n=1, then="finish", tenant="t"), result=None,
    )  # fmt: skip
    assert record.state() == {
        "id": "job-1",
        "status": "running",
        "created_at": int(created.timestamp()),
        "started_at": int(created.timestamp()),
        "finished_at": None,
        "error": None,
    }
    assert not record.succeeded

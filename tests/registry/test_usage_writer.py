"""Usage rows written in the background: every row recorded reaches the database, with the
time it was recorded, by the time ``close()`` returns; a burst goes in few transactions."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from aimaas.registry import repository
from aimaas.registry.db import Database
from aimaas.registry.tables import UsageRecord, utcnow
from aimaas.registry.usage_writer import UsageWriter


def _tenant(db: Database) -> str:
    with db.session() as session:
        return repository.create_tenant(session, name="acme").id


def _row(tenant_id: str, n: int) -> repository.RequestUsage:
    return repository.RequestUsage(
        tenant_id=tenant_id,
        key_id=None,
        model="m",
        endpoint="/v1/chat",
        prompt_tokens=n,
        completion_tokens=2 * n,
        created_at=utcnow() - timedelta(hours=1),
    )


def test_every_row_from_many_threads_is_written_by_close(db: Database) -> None:
    tenant_id = _tenant(db)
    commits: list[int] = []
    event.listen(db.engine, "commit", lambda _conn: commits.append(1))
    writer = UsageWriter(db)
    threads = [
        threading.Thread(
            target=lambda t=t: [writer.record(_row(tenant_id, 10 * t + i)) for i in range(25)]
        )
        for t in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()
    with db.session() as session:
        count, prompt, completion, newest = session.execute(
            select(
                func.count(),
                func.sum(UsageRecord.prompt_tokens),
                func.sum(UsageRecord.completion_tokens),
                func.max(UsageRecord.created_at),
            ).where(UsageRecord.tenant_id == tenant_id)
        ).one()
    assert count == 200
    expected = sum(10 * t + i for t in range(8) for i in range(25))
    assert (prompt, completion) == (expected, 2 * expected)
    assert newest < utcnow() - timedelta(minutes=59)  # the recorded time, not the write's
    assert 1 <= len(commits) < 200  # batched: fewer transactions than rows


def test_recording_after_close_is_an_error_not_a_silent_loss(db: Database) -> None:
    writer = UsageWriter(db)
    writer.close()
    with pytest.raises(RuntimeError, match="closed"):
        writer.record(_row(_tenant(db), 1))

"""The registry of job kinds, and a kind reading its rows back typed."""

from __future__ import annotations

import pytest

from aimaas.jobs.kinds import JobKinds
from aimaas.registry import jobs
from aimaas.registry.db import Database
from aimaas.server.job_kinds import JOB_KINDS
from tests.jobs import COUNT, CountResult, CountSpec


def test_the_server_runs_the_three_built_in_kinds() -> None:
    assert JOB_KINDS.names == ("training", "evaluation", "optimization")
    assert JOB_KINDS.get("evaluation").name == "evaluation"


def test_a_kind_is_registered_once_and_looked_up_by_name() -> None:
    kinds = JobKinds([COUNT])
    assert kinds.names == ("count",) and kinds.get("count") is COUNT
    with pytest.raises(ValueError, match="two job kinds are called 'count'"):
        JobKinds([COUNT, COUNT])
    with pytest.raises(LookupError, match="no job kind 'training'; this server runs count"):
        kinds.get("training")


def test_a_row_reads_back_with_its_spec_and_result_typed(db: Database, tenant: str) -> None:
    spec = CountSpec(n=3, then="finish", tenant=tenant)
    with db.session() as session:
        row = jobs.create_job(
            session, tenant_id=tenant, kind="count", spec=spec.model_dump(mode="json")
        )
        queued = COUNT.record(row)
        assert queued.spec == spec and queued.result is None and queued.status == "queued"
        jobs.finish(session, row, status="succeeded", result={"total": 3})
        done = COUNT.record(row)
    assert done.result == CountResult(total=3) and done.succeeded
    assert done.finished_at is not None and done.state()["finished_at"] == int(
        done.finished_at.timestamp()
    )

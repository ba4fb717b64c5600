"""The promotion gate, on versions with evaluations recorded on them: a bound, "at least
as good as the alias's version now", and the refusals that name both numbers."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from aimaas.errors import Conflict, InvalidInput
from aimaas.evaluate.gate import gate, newest_evaluation
from aimaas.protocol.aliases import Requirement
from aimaas.registry import aliases, repository
from aimaas.registry.db import Database
from aimaas.registry.tables import ModelVersion


def evaluated(*runs: tuple[str, str, float]) -> dict[str, Any]:
    """Details with evaluations (id, file, accuracy), oldest first."""
    return {
        "evaluations": [
            {"id": i, "file": f, "target": None, "metrics": {"accuracy": a, "log_loss": 1 - a},
             "finished_at": "2026-01-01T00:00:00"}
            for i, f, a in runs
        ]
    }  # fmt: skip


@pytest.fixture
def versions(db: Database) -> tuple[str, str]:
    with db.session() as session:
        tenant = repository.create_tenant(session, name="acme").id
        for details in (evaluated(("e1", "f", 0.8)), evaluated(("e2", "f", 0.7), ("e3", "g", 0.9)),
                        {}):  # fmt: skip
            repository.register_model(
                session, tenant_id=tenant, name="m", task="classification",
                format="aimaas-torch", details=details,
            )  # fmt: skip
    return tenant, "m"


def check(db: Database, tenant: str, version: int, require: dict[str, Any]) -> dict[str, Any]:
    with db.session() as session:
        model = aliases.own_model(session, tenant_id=tenant, name="m")
        holder = aliases.get_version(session, model=model, version=1)
        aliases.set_alias(session, model=model, alias="production", version=holder)
        candidate = aliases.get_version(session, model=model, version=version)
        return gate(session, model, "production", candidate, Requirement(**require))


def test_the_newest_evaluation_on_a_file_counts(db: Database, versions: tuple[str, str]) -> None:
    with db.session() as session:
        second = session.scalars(select(ModelVersion).where(ModelVersion.version == 2)).one()
        newest = newest_evaluation(second, file=None)
        on_f = newest_evaluation(second, file="f")
    assert newest is not None and newest.id == "e3"
    assert on_f is not None and on_f.id == "e2"


def test_a_candidate_that_passes_is_told_what_was_compared(
    db: Database, versions: tuple[str, str]
) -> None:
    tenant, _ = versions
    passed = check(db, tenant, 2, {"metric": "accuracy", "min": 0.5, "file": "f"})
    assert passed == {
        "metric": "accuracy",
        "lower_is_better": False,
        "candidate": {"version": 2, "value": 0.7, "evaluation": "e2"},
        "min": 0.5,
    }


def test_a_worse_candidate_is_refused_with_both_numbers(
    db: Database, versions: tuple[str, str]
) -> None:
    tenant, _ = versions
    with pytest.raises(Conflict) as worse:
        check(db, tenant, 2, {"metric": "accuracy", "at_least_current": True, "file": "f"})
    assert worse.value.param == "require.at_least_current"
    assert "0.7" in worse.value.message and "0.8" in worse.value.message
    with pytest.raises(Conflict, match="lower is better for log_loss") as bound:
        check(db, tenant, 2, {"metric": "log_loss", "min": 0.1, "file": "f"})
    assert bound.value.param == "require.min"


def test_requirements_that_cannot_be_judged(db: Database, versions: tuple[str, str]) -> None:
    tenant, _ = versions
    with pytest.raises(InvalidInput) as unknown:
        check(db, tenant, 2, {"metric": "fun", "min": 1})
    assert unknown.value.param == "require.metric"
    with pytest.raises(InvalidInput) as empty:
        check(db, tenant, 2, {"metric": "accuracy"})
    assert empty.value.param == "require"
    with pytest.raises(Conflict, match="run one first: POST /v1/evaluations"):
        check(db, tenant, 3, {"metric": "accuracy", "min": 0.1})
    with pytest.raises(Conflict, match="evaluate it on that file first"):
        check(db, tenant, 2, {"metric": "accuracy", "at_least_current": True, "file": "g"})

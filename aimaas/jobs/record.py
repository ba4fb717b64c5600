"""A job as the services read it: its row's state, its spec and its result, typed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel

SpecT = TypeVar("SpecT", bound=BaseModel)
ResultT = TypeVar("ResultT", bound=BaseModel)


def _seconds(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


@runtime_checkable
class RegisteredVersion(Protocol):
    """The result of a kind that registers a model version."""

    model: str
    version: int


@dataclass(frozen=True)
class JobRecord(Generic[SpecT, ResultT]):
    id: str
    kind: str
    tenant_id: str
    status: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    attempts: int
    spec: SpecT
    result: ResultT | None  # once it has succeeded

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    def state(self) -> dict[str, Any]:
        """The fields every job object shows (``protocol.jobs.JobState``)."""
        created = _seconds(self.created_at)
        assert created is not None
        return {
            "id": self.id,
            "status": self.status,
            "created_at": created,
            "started_at": _seconds(self.started_at),
            "finished_at": _seconds(self.finished_at),
            "error": self.error,
        }

    def producing_state(self) -> dict[str, Any]:
        """``state()`` with the attempts and the version the job registered, for kinds whose
        result names one (``protocol.jobs.ProducingJobState``)."""
        made = self.result if isinstance(self.result, RegisteredVersion) else None
        return {
            **self.state(),
            "attempts": self.attempts,
            "result_model": None if made is None else made.model,
            "result_version": None if made is None else made.version,
        }

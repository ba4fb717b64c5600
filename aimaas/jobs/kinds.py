"""A job kind as one record, and the registry of the kinds a server runs.

A kind says what its jobs are (the spec type, stored as the spec's JSON), what is checked
once at submit (``validate``: the request in, the spec out, a 4xx naming the field when
something is wrong), what runs in the worker (``handler``), what a job gives back
(``result``) and the object the API shows for it (``view``). Adding a kind is one module
with its ``JobKind`` and one line in ``aimaas.server.job_kinds``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from aimaas.config import Settings
from aimaas.errors import NotFound
from aimaas.jobs.context import Finalize, JobContext
from aimaas.jobs.record import JobRecord
from aimaas.registry.db import Database
from aimaas.registry.store import ArtifactStore
from aimaas.registry.tables import Job, columns

# What a JobRecord reads of its row as it is (the spec and result are read back typed).
_RECORD_COLUMNS = ("id", "kind", "tenant_id", "status", "created_at", "started_at",
                   "finished_at", "error", "attempts")  # fmt: skip

RequestT = TypeVar("RequestT", bound=BaseModel)
SpecT = TypeVar("SpecT", bound=BaseModel)
ResultT = TypeVar("ResultT", bound=BaseModel)
ViewT = TypeVar("ViewT", bound=BaseModel)


@dataclass(frozen=True)
class Submission:
    """What ``validate`` gets at submit: who submits, and where the job's inputs are."""

    settings: Settings
    db: Database
    store: ArtifactStore
    tenant_id: str


@dataclass(frozen=True)
class JobKind(Generic[RequestT, SpecT, ResultT, ViewT]):
    name: str
    spec: type[SpecT]
    result: type[ResultT]
    validate: Callable[[Submission, RequestT], SpecT]  # in the API, once per job
    handler: Callable[[JobContext[SpecT]], Finalize[ResultT]]  # in the worker
    view: Callable[[JobRecord[SpecT, ResultT]], ViewT]
    # The 404 for a job id that is not one of this kind's (default: "No <name> job 'id'.").
    not_found: Callable[[str], NotFound] | None = None

    def record(self, row: Job, spec: SpecT | None = None) -> JobRecord[SpecT, ResultT]:
        """The row, its spec and result read back typed (``spec``: already known)."""
        return JobRecord(
            **columns(row, _RECORD_COLUMNS),
            spec=spec if spec is not None else self.spec.model_validate(row.spec),
            result=None if row.result is None else self.result.model_validate(row.result),
        )


AnyKind = JobKind[Any, Any, Any, Any]


class JobKinds:
    """The kinds one server runs, by name."""

    def __init__(self, kinds: Iterable[AnyKind]) -> None:
        self._kinds: dict[str, AnyKind] = {}
        for kind in kinds:
            if kind.name in self._kinds:
                raise ValueError(f"two job kinds are called {kind.name!r}")
            self._kinds[kind.name] = kind

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._kinds)

    def get(self, name: str) -> AnyKind:
        kind = self._kinds.get(name)
        if kind is None:
            raise LookupError(f"no job kind {name!r}; this server runs {', '.join(self._kinds)}")
        return kind

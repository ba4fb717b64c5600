"""What a job handler gets in its worker process, and how it reports back."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy.orm import Session

from aimaas.config import Settings
from aimaas.crypto import load_master_key
from aimaas.registry import jobs
from aimaas.registry.db import Database
from aimaas.registry.store import ArtifactStore
from aimaas.security.sealed_files import SealedFiles

SpecT = TypeVar("SpecT", bound=BaseModel)
ResultT = TypeVar("ResultT", bound=BaseModel)


class Cancelled(Exception):
    """The job was asked to stop (a cancel request or the server shutting down)."""


# A handler's last step: runs in the transaction that marks the job succeeded (so new
# registry rows and the job's end are recorded together) and returns the job's result.
Finalize = Callable[[Session], ResultT]


@dataclass
class JobContext(Generic[SpecT]):
    settings: Settings
    db: Database
    store: ArtifactStore
    job_id: str
    kind: str
    tenant_id: str
    spec: SpecT  # as validated at submit
    attempts: int
    terminated: threading.Event = field(default_factory=threading.Event)
    _checked: float = 0.0
    _cancelled: bool = False

    @property
    def workdir(self) -> Path:
        """Scratch space (checkpoints) that survives a crash and goes when the job ends."""
        return self.settings.storage.data_dir / "jobs" / self.job_id

    def sealed_files(self, folder: Path) -> SealedFiles | None:
        """How this job's scratch files in ``folder`` are sealed under the master key when
        encryption at rest is on (nothing decrypted reaches the disk); None: plain."""
        master = load_master_key(self.settings.security)
        if master is None:
            return None
        return SealedFiles(master, folder, owner=f"{self.tenant_id}/job/{self.job_id}")

    def event(self, data: dict[str, Any]) -> None:
        with self.db.session() as session:
            jobs.add_event(session, job_id=self.job_id, data=data)

    def on_sigterm(self, _signum: int, _frame: FrameType | None) -> None:
        self.terminated.set()

    def should_stop(self) -> bool:
        """True at once after SIGTERM, within half a second of a cancel request."""
        if self.terminated.is_set():
            return True
        now = time.monotonic()
        if now - self._checked > 0.5:
            self._checked = now
            with self.db.session() as session:
                self._cancelled = jobs.cancel_requested(session, job_id=self.job_id)
        return self._cancelled

    def check_stop(self) -> None:
        if self.should_stop():
            raise Cancelled(f"{self.kind} job {self.job_id} was stopped")

"""Usage rows (prompt and completion tokens per request), written off the serving path.

Requests end in bursts (a batch of sequences finishes in the same step), so the rows queue
up and a background thread writes whatever has queued in one transaction: one commit for
the burst instead of one per request, on the cores the model runs on. ``close()`` writes
what is still queued before it returns.
"""

from __future__ import annotations

import logging
import threading

from aimaas.registry import repository
from aimaas.registry.db import Database
from aimaas.registry.repository import RequestUsage

log = logging.getLogger("aimaas.usage")


class UsageWriter:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._queued: list[RequestUsage] = []
        self._changed = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="usage-writer", daemon=True)
        self._thread.start()

    def record(self, row: RequestUsage) -> None:
        with self._changed:
            if self._closed:
                raise RuntimeError("the usage writer is closed")
            self._queued.append(row)
            self._changed.notify()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._queued and not self._closed:
                    self._changed.wait()
                rows, self._queued = self._queued, []
            if not rows:
                return  # closed, and nothing left
            self._write(rows)

    def _write(self, rows: list[RequestUsage]) -> None:
        try:
            with self.db.session() as session:
                repository.record_usage(session, rows)
        except Exception:
            log.exception("could not record usage of %d requests", len(rows))

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify()
        self._thread.join()

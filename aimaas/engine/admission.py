"""Admission control for one model: a bounded number of running and waiting requests.

Pure bookkeeping, no I/O: the engine asks ``enter()`` before submitting and calls ``leave()``
when the request ends, however it ends.
"""

from __future__ import annotations

from dataclasses import dataclass

from aimaas.errors import Overloaded


@dataclass
class Admission:
    max_running: int
    max_waiting: int
    in_flight: int = 0

    @property
    def running(self) -> int:
        return min(self.in_flight, self.max_running)

    @property
    def waiting(self) -> int:
        return max(0, self.in_flight - self.max_running)

    @property
    def capacity(self) -> int:
        return self.max_running + self.max_waiting

    def enter(self, model: str) -> None:
        if self.in_flight >= self.capacity:
            raise Overloaded(
                f"Model '{model}' is busy: {self.running} running and {self.waiting} waiting "
                "requests; retry after the Retry-After delay.",
                retry_after=1,
            )
        self.in_flight += 1

    def leave(self) -> None:
        self.in_flight = max(0, self.in_flight - 1)

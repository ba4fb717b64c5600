"""Dynamic batching: items from concurrent requests share one call of a batch function.

A worker waits for the first request, then gathers more for as long as they keep coming: it
yields to the event loop, so requests already received reach ``submit``, until a turn brings
nothing new, ``max_batch`` items are pending, or ``max_delay`` seconds have passed. A lone
request therefore runs at once instead of waiting out the delay, while under load the batch
fills up. The batch runs on an executor thread and each request gets its own slice of the
results; while a batch runs, the next one gathers. With ``inline_below`` set, batches that
have been costing less CPU time than that run on the event loop itself: for a model that
small the hand-over to a thread and back (and waiting for the GIL there while the loop is
busy) costs more than the batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")

# Turns of the event loop in a row without a new request before a batch stops gathering.
QUIET_TURNS = 3


@dataclass
class _Pending(Generic[In, Out]):
    items: Sequence[In]
    future: asyncio.Future[list[Out]]


class DynamicBatcher(Generic[In, Out]):
    def __init__(
        self,
        run_batch: Callable[[list[In]], Sequence[Out]],
        *,
        max_batch: int,
        max_delay: float,
        executor: Executor | None = None,
        inline_below: float = 0.0,
    ) -> None:
        self._run_batch = run_batch
        self.max_batch = max_batch
        self.max_delay = max_delay
        self.inline_below = inline_below
        self._executor = executor
        self._pending: deque[_Pending[In, Out]] = deque()
        self._pending_items = 0
        self._arrivals = 0  # requests submitted so far
        self._waiter: asyncio.Future[None] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._running = False
        self._cost: float | None = None  # CPU seconds a batch takes (moving average)
        self.batches_run = 0
        self.items_run = 0

    @property
    def busy(self) -> bool:
        return bool(self._pending) or self._running

    async def submit(self, items: Sequence[In]) -> list[Out]:
        if not items:
            return []
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work())
        future: asyncio.Future[list[Out]] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(items, future))
        self._pending_items += len(items)
        self._arrivals += 1
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        return await future

    def _take_batch(self) -> list[_Pending[In, Out]]:
        batch = [self._pending.popleft()]
        size = len(batch[0].items)
        while self._pending and size + len(self._pending[0].items) <= self.max_batch:
            size += len(self._pending[0].items)
            batch.append(self._pending.popleft())
        self._pending_items -= size
        return batch

    async def _gather(self, loop: asyncio.AbstractEventLoop) -> None:
        """Yield to the loop while requests keep arriving (up to ``max_batch`` items or
        ``max_delay`` seconds)."""
        deadline = loop.time() + self.max_delay
        quiet = 0
        while (
            quiet < QUIET_TURNS and self._pending_items < self.max_batch and loop.time() < deadline
        ):
            seen = self._arrivals
            await asyncio.sleep(0)
            quiet = 0 if self._arrivals != seen else quiet + 1

    def _timed(self, flat: list[In]) -> tuple[Sequence[Out], float]:
        started = time.thread_time()
        results = self._run_batch(flat)
        return results, time.thread_time() - started

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._pending:
                self._waiter = loop.create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None
                continue
            await self._gather(loop)
            batch = [p for p in self._take_batch() if not p.future.cancelled()]
            if not batch:
                continue
            flat = [item for pending in batch for item in pending.items]
            self._running = True
            try:
                if self._cost is not None and self._cost < self.inline_below:
                    results, cost = self._timed(flat)
                else:
                    results, cost = await loop.run_in_executor(self._executor, self._timed, flat)
            except Exception as exc:
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(exc)
                continue
            finally:
                self._running = False
            self._cost = cost if self._cost is None else 0.75 * self._cost + 0.25 * cost
            self.batches_run += 1
            self.items_run += len(flat)
            start = 0
            for pending in batch:
                end = start + len(pending.items)
                if not pending.future.done():
                    pending.future.set_result(list(results[start:end]))
                start = end

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

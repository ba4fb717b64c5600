"""Dynamic batching: items from concurrent requests share one call of a batch function.

A worker waits for the first request, then up to ``max_delay`` seconds (or until
``max_batch`` items are pending) for more, runs the batch on an executor thread, and hands
each request its own slice of the results. While a batch runs, the next one gathers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


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
    ) -> None:
        self._run_batch = run_batch
        self.max_batch = max_batch
        self.max_delay = max_delay
        self._executor = executor
        self._pending: deque[_Pending[In, Out]] = deque()
        self._wakeup = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._running = False
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
        self._wakeup.set()
        return await future

    def _pending_items(self) -> int:
        return sum(len(p.items) for p in self._pending)

    def _take_batch(self) -> list[_Pending[In, Out]]:
        batch = [self._pending.popleft()]
        size = len(batch[0].items)
        while self._pending and size + len(self._pending[0].items) <= self.max_batch:
            size += len(self._pending[0].items)
            batch.append(self._pending.popleft())
        return batch

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                deadline = loop.time() + self.max_delay
                while self._pending_items() < self.max_batch and loop.time() < deadline:
                    await asyncio.sleep(min(0.0005, max(0.0, deadline - loop.time())))
                batch = [p for p in self._take_batch() if not p.future.cancelled()]
                if not batch:
                    continue
                flat = [item for pending in batch for item in pending.items]
                self._running = True
                try:
                    results = await loop.run_in_executor(self._executor, self._run_batch, flat)
                except Exception as exc:
                    for pending in batch:
                        if not pending.future.done():
                            pending.future.set_exception(exc)
                    continue
                finally:
                    self._running = False
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

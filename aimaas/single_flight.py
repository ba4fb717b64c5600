"""One cache refresh at a time per key, for the caches on the serving hot path."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import TypeVar

T = TypeVar("T")


class OneFlight:
    """Concurrent calls of a step that reads through a cache (a key, a model spec, a tenant's
    limits) go one at a time per key while one of them is waiting on I/O: the others wait for
    it, then make their own call, which finds the cache warm. Without it every request that
    arrives while an entry is being refreshed does the same database read on its own worker
    thread, and under load the reads stall the event loop together (about 0.1 s for 32
    requests in flight, every time the entry expires)."""

    def __init__(self) -> None:
        self._flights: dict[Hashable, asyncio.Future[None]] = {}

    async def run(self, key: Hashable, call: Callable[[], Awaitable[T]]) -> T:
        while (flight := self._flights.get(key)) is not None:
            await asyncio.shield(flight)
        flight = asyncio.get_running_loop().create_future()
        self._flights[key] = flight
        try:
            return await call()
        finally:
            del self._flights[key]
            flight.set_result(None)

    async def through(
        self, key: Hashable, cached: Callable[[], T | None], read: Callable[[], Awaitable[T]]
    ) -> T:
        """``cached()`` if it has the value; else ``read()`` (which fills the cache), one
        at a time per key, each waiter looking in the cache again before reading."""
        hit = cached()
        if hit is not None:
            return hit

        async def refresh() -> T:
            again = cached()
            return again if again is not None else await read()

        return await self.run(key, refresh)

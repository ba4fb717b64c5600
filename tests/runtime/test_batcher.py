"""Dynamic batching with a plain batch function: sharing, order, and failures."""

from __future__ import annotations

import asyncio
import threading

import pytest

from aimaas.runtime.batcher import DynamicBatcher


def test_concurrent_requests_share_batches_and_keep_their_order() -> None:
    sizes: list[int] = []

    def double(items: list[int]) -> list[int]:
        sizes.append(len(items))
        threading.Event().wait(0.01)  # a forward pass takes time; others gather meanwhile
        return [2 * item for item in items]

    async def scenario() -> list[list[int]]:
        batcher = DynamicBatcher(double, max_batch=64, max_delay=0.005)
        requests = [[10 * r + i for i in range(4)] for r in range(16)]
        results = await asyncio.gather(*(batcher.submit(items) for items in requests))
        await batcher.close()
        return results

    results = asyncio.run(scenario())
    assert results == [[2 * (10 * r + i) for i in range(4)] for r in range(16)]
    assert sum(sizes) == 64 and len(sizes) < 16 and max(sizes) <= 64


def test_a_failing_batch_fails_only_its_requests() -> None:
    def picky(items: list[int]) -> list[int]:
        if -1 in items:
            raise ValueError("bad item")
        return items

    async def scenario() -> None:
        batcher = DynamicBatcher(picky, max_batch=2, max_delay=0.0)
        bad = asyncio.ensure_future(batcher.submit([-1, 0]))
        good = asyncio.ensure_future(batcher.submit([1, 2]))
        with pytest.raises(ValueError):
            await bad
        assert await good == [1, 2]
        await batcher.close()

    asyncio.run(scenario())

"""single_flight.py: calls for one key run one at a time, other keys do not wait, a failing
call frees its key, and ``through`` reads once for a crowd of cache misses."""

from __future__ import annotations

import asyncio

import pytest

from aimaas.single_flight import OneFlight


def test_calls_for_one_key_go_one_at_a_time_and_other_keys_do_not_wait() -> None:
    async def scenario() -> list[str]:
        flights = OneFlight()
        events: list[str] = []
        release = asyncio.Event()

        async def slow(name: str) -> str:
            events.append(f"start {name}")
            await release.wait()
            events.append(f"end {name}")
            return name

        async def quick(name: str) -> str:
            events.append(f"ran {name}")
            return name

        first = asyncio.create_task(flights.run("k", lambda: slow("first")))
        second = asyncio.create_task(flights.run("k", lambda: quick("second")))
        other = asyncio.create_task(flights.run("other", lambda: quick("other")))
        assert await other == "other"  # while "k" is still in flight
        assert not second.done()
        release.set()
        assert (await first, await second) == ("first", "second")
        return events

    assert asyncio.run(scenario()) == ["start first", "ran other", "end first", "ran second"]


def test_a_failing_call_frees_its_key_for_the_next() -> None:
    async def scenario() -> str:
        flights = OneFlight()

        async def fails() -> str:
            raise RuntimeError("database down")

        async def works() -> str:
            return "read"

        failing = asyncio.create_task(flights.run("k", fails))
        waiting = asyncio.create_task(flights.run("k", works))
        with pytest.raises(RuntimeError, match="database down"):
            await failing
        return await waiting

    assert asyncio.run(scenario()) == "read"


def test_through_reads_once_for_concurrent_misses_and_not_at_all_for_a_hit() -> None:
    async def scenario() -> tuple[list[str], int]:
        flights = OneFlight()
        cache: dict[str, str] = {}
        reads = 0
        gate = asyncio.Event()

        async def read() -> str:
            nonlocal reads
            reads += 1
            await gate.wait()  # the read is on I/O while the others arrive
            cache["k"] = "value"
            return "value"

        async def open_gate() -> None:  # runs after every caller has had its first step
            gate.set()

        crowd = [asyncio.create_task(flights.through("k", lambda: cache.get("k"), read))
                 for _ in range(8)]  # fmt: skip
        await asyncio.create_task(open_gate())
        values = [await caller for caller in crowd]
        hit = await flights.through("k", lambda: cache.get("k"), read)
        return [*values, hit], reads

    values, reads = asyncio.run(scenario())
    assert values == ["value"] * 9
    assert reads == 1

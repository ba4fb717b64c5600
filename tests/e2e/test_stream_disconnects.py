"""Streaming chat requests at concurrency 50 on the default chat model, half of the clients
cutting the stream at a random point (before the first token, mid-stream, just before the
end), in 3 rounds: after each round no sequence is left running or waiting, and the server
process tree (the server and its engine children) keeps its memory: RSS in the third round
within 5 % of the first (with a prompt cache small enough to be full after the first).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import psutil
import pytest

from tests.e2e.server import LiveServer, descendants, start_server

pytestmark = pytest.mark.e2e

CHAT = "smollm2-135m-instruct"
ROUNDS = 3
PER_ROUND = 334  # 1,002 requests in all
CONCURRENCY = 50
MAX_TOKENS = 8
RSS_TOLERANCE = 0.05
BODY = {
    "model": CHAT,
    "messages": [{"role": "user", "content": "Name a colour."}],
    "max_tokens": MAX_TOKENS,
    "stream": True,
}


def tree_rss(pid: int) -> int:
    total = 0
    for each in {pid} | descendants(pid):
        try:
            total += psutil.Process(each).memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


def slots(server: LiveServer) -> tuple[float, float]:
    """Running and waiting sequences of the chat model, from /metrics's slot gauges."""
    text = httpx.get(
        f"{server.url}/metrics", headers={"Authorization": f"Bearer {server.admin_key}"}
    ).text
    found = {}
    for line in text.splitlines():
        for name in ("running_sequences", "waiting_requests"):
            if line.startswith(f'aimaas_llm_{name}{{model="{CHAT}"}}'):
                found[name] = float(line.rsplit(" ", 1)[1])
    return found.get("running_sequences", 0.0), found.get("waiting_requests", 0.0)


async def one(client: httpx.AsyncClient, cut: int | None, tally: Counter[str]) -> None:
    """One streaming request; ``cut``: hang up after that many events (None: read it all)."""
    events = 0
    try:
        async with client.stream("POST", "/v1/chat/completions", json=BODY) as response:
            tally[f"status {response.status_code}"] += 1
            if cut == 0:
                tally["cut before reading a token"] += 1
                return
            async for line in response.aiter_lines():
                if not line.startswith("data: "):
                    continue
                events += 1
                if cut is not None and events >= cut:
                    tally["cut mid-stream"] += 1
                    return
                if line == "data: [DONE]":
                    tally["read to the end"] += 1
    except httpx.HTTPError as exc:
        tally[f"client error {type(exc).__name__}"] += 1


async def a_round(server: LiveServer, rng: random.Random, tally: Counter[str]) -> None:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    headers = {"Authorization": f"Bearer {server.admin_key}"}
    gate = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(
        base_url=server.url, headers=headers, limits=limits, timeout=120
    ) as client:

        async def gated(cut: int | None) -> None:
            async with gate:
                await one(client, cut, tally)

        # Half cut at random: 0 (before the first token) up to the last event.
        cuts = [
            rng.randint(0, MAX_TOKENS + 2) if rng.random() < 0.5 else None for _ in range(PER_ROUND)
        ]
        await asyncio.gather(*(gated(cut) for cut in cuts))


def wait_idle(server: LiveServer, timeout: float = 20) -> float:
    started = time.monotonic()
    while slots(server) != (0.0, 0.0):
        assert time.monotonic() - started < timeout, f"leaked slots: {slots(server)}"
        time.sleep(0.1)
    return time.monotonic() - started


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # A small prompt cache: it fills in the first round and then holds its size, so what
    # the rounds compare is what requests leave behind, not the cache's planned growth.
    env = {"AIMAAS_ENGINE__PROMPT_CACHE_MB": "16"}
    with start_server(tmp_path_factory.mktemp("disconnects") / "data", env=env) as live:
        yield live


def test_streams_cut_at_random_leak_no_slots_and_no_memory(server: LiveServer) -> None:
    started = time.perf_counter()
    with server.http() as client:  # load the model before the first measure
        warm = client.post("/v1/chat/completions", json={**BODY, "stream": False})
        assert warm.status_code == 200, warm.text
    rng = random.Random(50)
    rss: list[int] = []
    tallies: list[Counter[str]] = []
    for _ in range(ROUNDS):
        tally: Counter[str] = Counter()
        began = time.perf_counter()
        asyncio.run(a_round(server, rng, tally))
        tally["seconds"] = round(time.perf_counter() - began)
        tally["idle after s"] = round(wait_idle(server), 1)  # type: ignore[assignment]
        time.sleep(0.5)
        rss.append(tree_rss(server.process.pid))
        tallies.append(tally)
        assert tally["status 200"] == PER_ROUND, tally
    mb = [round(r / 2**20, 1) for r in rss]
    change = (rss[-1] - rss[0]) / rss[0]
    print(
        f"\nstream disconnects: {ROUNDS} rounds x {PER_ROUND} at concurrency {CONCURRENCY}: "
        f"{[dict(t) for t in tallies]}; 0 running/waiting after each round; tree RSS MB by "
        f"round {mb} ({change:+.1%} third vs first); {time.perf_counter() - started:.0f} s"
    )
    assert abs(change) <= RSS_TOLERANCE, f"RSS went from {mb[0]} to {mb[-1]} MB"
    metrics = httpx.get(
        f"{server.url}/metrics", headers={"Authorization": f"Bearer {server.admin_key}"}
    ).text
    assert 'status="5' not in metrics
    assert "Traceback" not in server.log()

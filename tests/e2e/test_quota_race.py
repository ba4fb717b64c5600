"""Quota race against a real server on the default GGUF chat model: 50 concurrent requests
against 10 remaining let at most 10 through, the rest are answered 429 with Retry-After and
a body naming the limit, streaming included; the usage rows match what was let through, and
nothing stays held once the requests end (clients that hang up included)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from aimaas.protocol.openai import ChatCompletionRequest
from aimaas.security.quotas import generation_maximum
from tests.e2e.server import LiveServer, start_server

pytestmark = pytest.mark.e2e

CHAT = "smollm2-135m-instruct"
CONCURRENT = 50
REMAINING = 10
MAX_TOKENS = 8
BODY: dict[str, Any] = {
    "model": CHAT,
    "messages": [{"role": "user", "content": "Say hi."}],
    "max_tokens": MAX_TOKENS,
    "temperature": 0,
}


@dataclass
class Outcome:
    ok: int = 0
    refused: list[httpx.Response] = field(default_factory=list)
    other: list[str] = field(default_factory=list)
    tokens: int = 0
    seconds: float = 0.0
    slowest_refusal: float = 0.0  # seconds from the start of the race


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("quota") / "data"
    with start_server(data_dir) as server:
        with server.http() as admin:  # load the model before the race
            warm = admin.post("/v1/chat/completions", json=BODY)
            assert warm.status_code == 200, warm.text
            assert admin.post("/v1/admin/tenants", json={"name": "race"}).status_code == 201
        yield server


def new_key(server: LiveServer, **limits: int) -> tuple[str, str]:
    with server.http() as admin:
        created = admin.post("/v1/admin/keys", json={"tenant": "race", "scopes": ["infer"]})
        assert created.status_code == 201, created.text
        key = created.json()
        response = admin.put(f"/v1/admin/keys/{key['id']}/limits", json=limits)
        assert response.status_code == 200, response.text
    return str(key["id"]), str(key["key"])


async def _one(client: httpx.AsyncClient, stream: bool, outcome: Outcome, started: float) -> None:
    body = BODY | ({"stream": True, "stream_options": {"include_usage": True}} if stream else {})
    async with client.stream("POST", "/v1/chat/completions", json=body) as response:
        if response.status_code == 429:
            await response.aread()
            outcome.refused.append(response)
            outcome.slowest_refusal = max(outcome.slowest_refusal, time.perf_counter() - started)
            return
        if response.status_code != 200:
            await response.aread()
            outcome.other.append(f"{response.status_code} {response.text[:200]}")
            return
        if not stream:
            await response.aread()
            outcome.tokens += response.json()["usage"]["total_tokens"]
            outcome.ok += 1
            return
        done = False
        async for line in response.aiter_lines():
            if line == "data: [DONE]":
                done = True
            elif line.startswith("data: "):
                chunk = json.loads(line[6:])
                assert "error" not in chunk, chunk
                if chunk.get("usage"):
                    outcome.tokens += chunk["usage"]["total_tokens"]
        assert done
        outcome.ok += 1


def race(server: LiveServer, key: str, *, stream: bool) -> Outcome:
    outcome = Outcome()

    async def run() -> None:
        limits = httpx.Limits(max_connections=CONCURRENT, max_keepalive_connections=0)
        async with httpx.AsyncClient(
            base_url=server.url,
            headers={"Authorization": f"Bearer {key}"},
            timeout=120,
            limits=limits,
        ) as client:
            await asyncio.gather(
                *(_one(client, stream, outcome, started) for _ in range(CONCURRENT))
            )

    started = time.perf_counter()
    asyncio.run(run())
    outcome.seconds = time.perf_counter() - started
    return outcome


def check_refusals(outcome: Outcome, limit: str, key_id: str) -> None:
    for response in outcome.refused:
        assert 1 <= int(response.headers["Retry-After"]) <= 86_400
        error = response.json()["error"]
        assert error["code"] == "quota_exceeded", error
        assert f"{limit} of key {key_id}" in error["message"]


def usage_of(server: LiveServer, key_id: str) -> tuple[int, int, dict[str, Any]]:
    """Requests and tokens in the usage table for ``key_id`` (written off the request path:
    waits for them briefly), and the key's limits view."""
    with server.http() as admin:
        for _ in range(50):
            report = admin.get("/v1/usage", params={"key": key_id}).json()
            requests = sum(row["requests"] for row in report["data"])
            tokens = sum(row["prompt_tokens"] + row["completion_tokens"] for row in report["data"])
            limits = admin.get(f"/v1/admin/keys/{key_id}/limits").json()
            if requests and tokens == limits["used"]["tokens_per_day"]:
                break
            time.sleep(0.1)
    return requests, tokens, limits


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streaming"])
def test_50_concurrent_against_10_requests_remaining(server: LiveServer, stream: bool) -> None:
    key_id, key = new_key(server, requests_per_minute=REMAINING, tokens_per_day=10**9)
    outcome = race(server, key, stream=stream)
    print(
        f"\nquota race ({'streaming' if stream else 'plain'}): {outcome.ok} of {CONCURRENT} "
        f"succeeded, {len(outcome.refused)} refused (the last after "
        f"{outcome.slowest_refusal * 1000:.0f} ms), in {outcome.seconds:.2f} s"
    )
    assert outcome.other == []
    assert outcome.ok <= REMAINING
    assert outcome.ok == REMAINING  # the model had room for every admitted request
    assert len(outcome.refused) == CONCURRENT - REMAINING
    check_refusals(outcome, "requests_per_minute", key_id)
    requests, tokens, limits = usage_of(server, key_id)
    assert requests == outcome.ok and tokens == outcome.tokens
    assert limits["used"]["requests_per_minute"] == REMAINING
    assert limits["used"]["tokens_per_day"] == tokens  # nothing is still held


def test_token_quota_is_never_exceeded(server: LiveServer) -> None:
    """A day's quota sized for exactly 10 of these requests at their maximum: at least 10
    get through (each holds its maximum), more only as finished ones give back what they did
    not use, and the tokens recorded never pass the quota."""
    maximum = generation_maximum(ChatCompletionRequest.model_validate(BODY), 2048)
    quota = REMAINING * maximum
    key_id, key = new_key(server, tokens_per_day=quota)
    outcome = race(server, key, stream=False)
    print(
        f"\ntoken quota race: quota {quota} ({maximum} per request at most), {outcome.ok} of "
        f"{CONCURRENT} succeeded using {outcome.tokens} tokens, in {outcome.seconds:.2f} s"
    )
    assert outcome.other == []
    assert outcome.ok >= REMAINING
    assert outcome.ok + len(outcome.refused) == CONCURRENT
    check_refusals(outcome, "tokens_per_day", key_id)
    requests, tokens, limits = usage_of(server, key_id)
    assert requests == outcome.ok and tokens == outcome.tokens <= quota
    assert limits["used"]["tokens_per_day"] == tokens


def test_clients_that_hang_up_give_back_what_they_held(server: LiveServer) -> None:
    key_id, key = new_key(server, tokens_per_day=10**6)

    async def hang_up(client: httpx.AsyncClient) -> None:
        body = BODY | {"stream": True, "max_tokens": 64}
        async with client.stream("POST", "/v1/chat/completions", json=body) as response:
            assert response.status_code == 200
            async for _ in response.aiter_lines():
                break  # the first line, then gone

    async def run() -> None:
        async with httpx.AsyncClient(
            base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=120
        ) as client:
            await asyncio.gather(*(hang_up(client) for _ in range(10)))

    asyncio.run(run())
    # Each held prompt + 64 tokens; once the server has seen them go, only what they used
    # stays counted, and it matches the usage rows.
    for _ in range(100):
        requests, tokens, limits = usage_of(server, key_id)
        if requests == 10 and limits["used"]["tokens_per_day"] == tokens:
            break
        time.sleep(0.1)
    assert requests == 10
    assert limits["used"]["tokens_per_day"] == tokens
    assert tokens < 10 * generation_maximum(
        ChatCompletionRequest.model_validate(BODY | {"max_tokens": 64}), 2048
    )


def test_over_quota_key_still_lists_models(server: LiveServer) -> None:
    key_id, key = new_key(server, tokens_per_day=0)
    with server.http(key) as client:
        refused = client.post("/v1/chat/completions", json=BODY)
        assert refused.status_code == 429 and "Retry-After" in refused.headers
        assert f"tokens_per_day of key {key_id}: 0 used of 0" in refused.json()["error"]["message"]
        assert client.get("/v1/models").status_code == 200
        assert client.get("/v1/usage").status_code == 200

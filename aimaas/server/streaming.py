"""Server-sent events for OpenAI streams, and aborting work when a client goes away.

Both run the work in the request's own task, with one small watcher task that cancels it if
the client disconnects: no task group and no extra task per request, since every request of
a busy LLM pays for them, on the same cores the model runs on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Awaitable
from typing import Any, TypeVar

from fastapi import Request
from starlette.background import BackgroundTask
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from aimaas.errors import AimaasError
from aimaas.server.errors import domain_error_response

T = TypeVar("T")

_SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class _DisconnectWatch:
    """While entered, a client disconnect cancels the current task; ``gone`` tells
    afterwards whether that is why it was cancelled."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self.gone = False
        self._active = False

    async def _watch(self, task: asyncio.Task[Any]) -> None:
        while (await self._receive())["type"] != "http.disconnect":
            pass
        if self._active:  # not the end of a response that just completed
            self.gone = True
            task.cancel("client disconnected")

    async def __aenter__(self) -> _DisconnectWatch:
        task = asyncio.current_task()
        assert task is not None
        self._active = True
        self._watcher = asyncio.ensure_future(self._watch(task))
        return self

    async def __aexit__(self, *_: object) -> None:
        self._active = False
        self._watcher.cancel()


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    """Await ``work``; if the client disconnects first, cancel it (freeing what it holds).
    The CancelledError goes up to the request middleware, which records a 499."""
    async with _DisconnectWatch(request.receive):
        return await work


async def collect(items: AsyncGenerator[T, None]) -> list[T]:
    """Every item of ``items``, closing it however the collecting ends."""
    try:
        return [item async for item in items]
    finally:
        await items.aclose()


def _event(payload: Any) -> bytes:
    return b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n"


async def _sse(
    chunks: AsyncGenerator[dict[str, Any], None], path: str
) -> AsyncGenerator[bytes, None]:
    try:
        async for chunk in chunks:
            yield _event(chunk)
    except AimaasError as exc:
        # Headers are gone already: report in-band, as OpenAI does.
        yield b"data: " + bytes(domain_error_response(exc, path).body) + b"\n\n"
    finally:
        await chunks.aclose()
    yield b"data: [DONE]\n\n"


class EventStream(Response):
    """Sends each chunk as an SSE event as soon as it comes. A client that disconnects
    closes ``chunks`` (which aborts the sequence behind it) at once."""

    media_type = "text/event-stream"

    def __init__(self, chunks: AsyncGenerator[dict[str, Any], None], path: str) -> None:
        # Not Response.__init__: there is no body to render, only these.
        self.chunks = chunks
        self.path = path
        self.status_code = 200
        self.background: BackgroundTask | None = None
        self.raw_headers = list(_SSE_HEADERS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        events = _sse(self.chunks, self.path)
        watch = _DisconnectWatch(receive)
        try:
            async with watch:
                start = {"type": "http.response.start", "status": 200, "headers": self.raw_headers}
                await send(start)
                async for data in events:
                    await send({"type": "http.response.body", "body": data, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not watch.gone:
                raise
            task = asyncio.current_task()
            assert task is not None
            task.uncancel()  # nobody is left to answer; the request simply ends
        finally:
            await events.aclose()
        if self.background is not None:
            await self.background()

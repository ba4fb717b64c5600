"""Server-sent events for OpenAI streams, and aborting work when a client goes away."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable
from typing import Any, TypeVar

from fastapi import Request
from starlette.responses import StreamingResponse

from aimaas.errors import AimaasError
from aimaas.server.errors import domain_error_response

T = TypeVar("T")


def _event(payload: Any) -> bytes:
    return b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n"


async def _sse(chunks: AsyncGenerator[dict[str, Any], None], path: str) -> AsyncIterator[bytes]:
    try:
        async for chunk in chunks:
            yield _event(chunk)
    except AimaasError as exc:
        # Headers are gone already: report in-band, as OpenAI does.
        yield b"data: " + bytes(domain_error_response(exc, path).body) + b"\n\n"
    finally:
        await chunks.aclose()
    yield b"data: [DONE]\n\n"


def sse_response(chunks: AsyncGenerator[dict[str, Any], None], path: str) -> StreamingResponse:
    return StreamingResponse(
        _sse(chunks, path),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _disconnected(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    """Await ``work``; if the client disconnects first, cancel it (freeing what it holds)."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request))
    try:
        done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if task not in done:
            task.cancel()
            raise asyncio.CancelledError("client disconnected")
        return task.result()
    finally:
        watcher.cancel()

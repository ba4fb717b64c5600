"""The Unix-socket HTTP client against a small real server that misbehaves like an engine
closing keep-alive connections: a request on a connection the server drops unanswered is
sent again on a fresh one."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from aimaas.engine.backends.uds_http import UnixHTTPClient


async def _serve(path: Path, answered: list[int]) -> asyncio.AbstractServer:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await _answer(reader, writer, answered)
        except asyncio.IncompleteReadError:
            pass  # the client closed its connection
        finally:
            writer.close()
            await writer.wait_closed()

    return await asyncio.start_unix_server(handle, path=str(path))


async def _answer(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, answered: list[int]
) -> None:
    served_here = 0
    while True:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        await reader.readexactly(length)
        if served_here == 1:  # the second request on a connection: drop it unanswered
            return
        served_here += 1
        answered.append(1)
        body = b'{"ok": true}'
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )
        await writer.drain()


def test_a_dropped_pooled_connection_is_retried_on_a_fresh_one(tmp_path: Path) -> None:
    async def scenario() -> list[bytes]:
        answered: list[int] = []
        server = await _serve(tmp_path / "s.sock", answered)
        client = UnixHTTPClient(str(tmp_path / "s.sock"), headers={}, max_idle=4)
        bodies = []
        for _ in range(3):
            async with client.request("POST", "/x", {"n": 1}) as response:
                assert response.status == 200
                bodies.append(await response.read())
        await client.aclose()
        server.close()
        await server.wait_closed()
        await asyncio.sleep(0.05)  # let both ends finish closing before the loop ends
        assert len(answered) == 3
        return bodies

    bodies = asyncio.run(scenario())
    assert [json.loads(body) for body in bodies] == [{"ok": True}] * 3


def test_a_request_cancelled_before_its_answer_closes_its_connection(tmp_path: Path) -> None:
    """A client that leaves while the engine is still working on its request (the task is
    cancelled waiting for the status line): the connection is closed at once, not left for
    the garbage collector; the engine sees end-of-file."""

    async def scenario() -> None:
        received, closed = asyncio.Event(), asyncio.Event()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            received.set()  # never answers
            if await reader.read() == b"":
                closed.set()
            writer.close()

        path = tmp_path / "slow.sock"
        server = await asyncio.start_unix_server(handle, path=str(path))
        client = UnixHTTPClient(str(path), headers={}, max_idle=4)

        async def ask() -> None:
            async with client.request("GET", "/slow"):
                pass

        task = asyncio.create_task(ask())
        await asyncio.wait_for(received.wait(), 5)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.wait_for(closed.wait(), 5)
        await client.aclose()
        server.close()
        await server.wait_closed()

    asyncio.run(scenario())

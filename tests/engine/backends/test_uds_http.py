"""The Unix-socket HTTP client against small real servers in process: a request on a
connection the server drops unanswered is sent again on a fresh one, a client that leaves
closes its connection, chunked answers come as lines, and connections are pooled only when
they can be reused."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

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


class _Recorder:
    """An in-process server on a Unix socket that answers every request with ``response``
    and records what it received and on how many connections."""

    def __init__(self, response: bytes) -> None:
        self.response = response
        self.connections = 0
        self.requests: list[tuple[bytes, bytes]] = []  # (head, body)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                self.requests.append((head, await reader.readexactly(length)))
                writer.write(self.response)
                await writer.drain()
        except asyncio.IncompleteReadError:
            pass  # the client closed the connection
        finally:
            writer.close()


def _run_against(tmp_path: Path, recorder: _Recorder, body: Any) -> Any:
    async def scenario() -> Any:
        path = tmp_path / "r.sock"
        server = await asyncio.start_unix_server(recorder.handle, path=str(path))
        try:
            return await body(str(path))
        finally:
            server.close()
            await server.wait_closed()

    return asyncio.run(scenario())


CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"4\r\ndata\r\n"  # a line in pieces, across chunks
    b"9;ext=1\r\n: a\n\ndata\r\n"
    b"d\r\n: b\r\nlast one\r\n"  # a CRLF line, and a last line with no newline
    b"0\r\n\r\n"
)


def test_a_chunked_answer_comes_as_lines_and_the_request_as_json(tmp_path: Path) -> None:
    recorder = _Recorder(CHUNKED)

    async def body(path: str) -> tuple[int, list[bytes]]:
        client = UnixHTTPClient(path, headers={"Authorization": "Bearer k"}, max_idle=2)
        async with client.request("POST", "/v1/completions", {"prompt": "é"}) as response:
            lines = [line async for line in response.lines()]
        await client.aclose()
        return response.status, lines

    status, lines = _run_against(tmp_path, recorder, body)
    assert status == 200
    assert lines == [b"data: a", b"", b"data: b", b"last one"]
    head, sent = recorder.requests[0]
    assert head.startswith(b"POST /v1/completions HTTP/1.1\r\nHost: llama\r\n")
    assert b"Authorization: Bearer k\r\n" in head and b"Content-Type: application/json" in head
    assert json.loads(sent) == {"prompt": "é"}


def test_a_connection_is_reused_only_after_a_whole_answer(tmp_path: Path) -> None:
    recorder = _Recorder(b"HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\nnope\n")

    async def body(path: str) -> list[bytes]:
        client = UnixHTTPClient(path, headers={}, max_idle=1)
        read = []
        for _ in range(2):  # read whole: the one connection is kept and reused
            async with client.request("GET", "/health") as response:
                assert response.status == 404
                read.append(await response.read())
        assert recorder.connections == 1
        async with client.request("GET", "/health"):
            pass  # left unread: not reusable
        async with client.request("GET", "/health") as response:
            read.append(await response.read())
        assert recorder.connections == 2
        await client.aclose()
        return read

    assert _run_against(tmp_path, recorder, body) == [b"nope\n"] * 3
    assert len(recorder.requests) == 4 and recorder.requests[0][1] == b""


@pytest.mark.parametrize(
    ("response", "max_idle"),
    [
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", 4),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0),
    ],
)
def test_no_reuse_when_the_server_says_close_or_the_pool_is_full(
    tmp_path: Path, response: bytes, max_idle: int
) -> None:
    recorder = _Recorder(response)

    async def body(path: str) -> int:
        client = UnixHTTPClient(path, headers={}, max_idle=max_idle)
        for _ in range(3):
            async with client.request("GET", "/health") as answer:
                assert await answer.read() == b"ok"
        client.drop()
        return recorder.connections

    assert _run_against(tmp_path, recorder, body) == 3

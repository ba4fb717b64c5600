"""A minimal HTTP/1.1 client over a Unix socket, for talking to a local llama-server.

Just what streaming to and from llama.cpp needs, and nothing that costs time per token:
keep-alive connections reused from a pool, a JSON request, a response read as raw lines
(chunked or sized). A stream closed early closes its connection, which llama-server takes as
the client going away and aborts the sequence.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    _reader: asyncio.StreamReader
    _done: bool = field(default=False)

    @property
    def chunked(self) -> bool:
        return self.headers.get("transfer-encoding", "").lower() == "chunked"

    async def _raw(self) -> AsyncIterator[bytes]:
        if self.chunked:
            while True:
                size = int((await self._reader.readline()).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    await self._reader.readline()  # the CRLF after the last chunk
                    break
                data = await self._reader.readexactly(size)
                await self._reader.readexactly(2)
                yield data
        else:
            length = int(self.headers.get("content-length", "0"))
            if length:
                yield await self._reader.readexactly(length)
        self._done = True

    async def lines(self) -> AsyncIterator[bytes]:
        """The body as lines (without the newline)."""
        buffer = b""
        async for data in self._raw():
            buffer += data
            *complete, buffer = buffer.split(b"\n")
            for line in complete:
                yield line.rstrip(b"\r")
        if buffer:
            yield buffer

    async def read(self) -> bytes:
        return b"".join([data async for data in self._raw()])


class UnixHTTPClient:
    def __init__(self, path: str, *, headers: dict[str, str], max_idle: int) -> None:
        self.path = path
        self._head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": "llama", **headers}.items())
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._max_idle = max_idle

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bool]:
        """A connection, and whether it was reused from the pool."""
        while self._idle:
            reader, writer = self._idle.pop()
            if not writer.is_closing() and not reader.at_eof():
                return reader, writer, True
            writer.close()
        reader, writer = await asyncio.open_unix_connection(self.path, limit=1 << 20)
        return reader, writer, False

    async def _send(
        self, request: bytes
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
        """Send ``request`` and read the status line. A pooled connection the server has
        closed meanwhile (keep-alive timeout) fails before any answer; the request then goes
        once more on a fresh connection, which is safe because nothing was processed."""
        while True:
            reader, writer, reused = await self._connection()
            try:
                writer.write(request)
                await writer.drain()
                status_line = await reader.readline()
            except (ConnectionError, BrokenPipeError):
                status_line = b""
            except BaseException:  # cancelled (the client left) or worse: not left for the GC
                writer.close()
                raise
            if status_line:
                return reader, writer, status_line
            writer.close()
            if not reused:
                raise ConnectionResetError("llama-server closed the connection")

    @asynccontextmanager
    async def request(
        self, method: str, target: str, payload: Any | None = None
    ) -> AsyncIterator[Response]:
        body = b"" if payload is None else json.dumps(payload).encode()
        head = f"{method} {target} HTTP/1.1\r\n{self._head}"
        if payload is not None:
            head += "Content-Type: application/json\r\n"
        head += f"Content-Length: {len(body)}\r\n\r\n"
        reader, writer, status_line = await self._send(head.encode() + body)
        response: Response | None = None
        try:
            headers: dict[str, str] = {}
            while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            response = Response(int(status_line.split()[1]), headers, reader)
            yield response
        finally:
            reusable = (
                response is not None
                and response._done
                and response.headers.get("connection", "").lower() != "close"
                and len(self._idle) < self._max_idle
            )
            if reusable:
                self._idle.append((reader, writer))
            else:
                writer.close()

    def drop(self) -> None:
        """Close the idle connections without waiting (from synchronous code)."""
        idle, self._idle = self._idle, []
        for _, writer in idle:
            writer.close()

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for _, writer in idle:
            writer.close()
        for _, writer in idle:
            with contextlib.suppress(OSError):
                await writer.wait_closed()

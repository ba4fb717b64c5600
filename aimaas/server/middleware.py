"""Plain ASGI middleware: request context (id, metrics, access log, last-resort 500),
draining on shutdown, and the request-body limit."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from dataclasses import dataclass

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aimaas.errors import PayloadTooLarge, Unavailable
from aimaas.observability.metrics import HttpMetrics
from aimaas.server.errors import domain_error_response, internal_error_response

access_log = logging.getLogger("aimaas.access")
error_log = logging.getLogger("aimaas.server")

REQUEST_ID_HEADER = "x-request-id"
CLIENT_CLOSED_REQUEST = 499  # nginx's status for a client that hung up before its answer
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@dataclass
class Lifecycle:
    """Shared with the process that runs the app: it sets ``draining`` on SIGTERM."""

    draining: bool = False


class RequestContextMiddleware:
    """Gives every request an id, records metrics and the access log, and turns any exception
    that escaped the app into a 500 that carries the id and nothing else."""

    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics, access: bool) -> None:
        self.app = app
        self.metrics = metrics
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        request_id = incoming if _CLIENT_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        response_started = False
        disconnected = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        async def watched_receive() -> Message:
            nonlocal disconnected
            message = await receive()
            disconnected = disconnected or message["type"] == "http.disconnect"
            return message

        try:
            await self.app(scope, watched_receive, send_with_id)
        except asyncio.CancelledError:
            if not disconnected or response_started:
                raise
            # The client went away before its answer and its work was cancelled: nothing
            # went wrong here, and nobody is left to answer (not a 500, not a traceback).
            status = CLIENT_CLOSED_REQUEST
        except Exception:
            error_log.exception(
                "unhandled error on %s %s",
                scope["method"],
                scope["path"],
                extra={"request_id": request_id},
            )
            if not response_started:
                await internal_error_response(scope["path"])(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.observe(
                method=scope["method"], route=route, status=status, seconds=seconds
            )
            if self.access:
                access_log.info(
                    "%s %s %s %.1fms",
                    scope["method"],
                    scope["path"],
                    status,
                    seconds * 1000,
                    extra={"request_id": request_id, "status": status, "route": route},
                )


class DrainMiddleware:
    """Once draining, new requests get 503 and the connection is closed, while those already
    running finish."""

    def __init__(self, app: ASGIApp, *, lifecycle: Lifecycle) -> None:
        self.app = app
        self.lifecycle = lifecycle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.lifecycle.draining:
            response = domain_error_response(
                Unavailable(
                    "The server is shutting down; retry on another replica.", retry_after=5
                ),
                scope["path"],
            )
            response.headers["Connection"] = "close"
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Refuses bodies over ``max_bytes`` (``upload_bytes`` for ``POST /v1/files``) with 413:
    at once from Content-Length, or as soon as a streamed (chunked) body passes the limit."""

    UPLOAD_PATH = "/v1/files"

    def __init__(self, app: ASGIApp, *, max_bytes: int, upload_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_bytes = upload_bytes or max_bytes

    def _limit(self, scope: Scope) -> tuple[int, str]:
        if scope["method"] == "POST" and scope["path"] == self.UPLOAD_PATH:
            return self.upload_bytes, "AIMAAS_STORAGE__MAX_UPLOAD_BYTES"
        return self.max_bytes, "AIMAAS_SERVER__MAX_BODY_BYTES"

    def _too_large(self, limit: int, setting: str) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"The request body is larger than {limit} bytes; send less, or raise {setting}.",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, setting = self._limit(scope)
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            too_large = self._too_large(limit, setting)
            await domain_error_response(too_large, scope["path"])(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # HTTPException passes FastAPI's body reader untouched and is answered
                    # by the app's handler as a 413.
                    raise HTTPException(413, detail=self._too_large(limit, setting).message)
            return message

        await self.app(scope, counting_receive, send)

"""The one place where exceptions become HTTP responses.

OpenAI-style ``{"error": {"message", "type", "param", "code"}}`` everywhere, except under
``/v2`` where the Open Inference Protocol's ``{"error": "..."}`` is used. No traceback or
filesystem path ever reaches a body: unexpected exceptions answer a fixed message.
"""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from aimaas.errors import (
    AimaasError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Overloaded,
    PayloadTooLarge,
    Unauthorized,
    Unavailable,
)

_STATUS: list[tuple[type[AimaasError], int, str]] = [
    (InvalidInput, 400, "invalid_request_error"),
    (Unauthorized, 401, "authentication_error"),
    (Forbidden, 403, "permission_error"),
    (NotFound, 404, "not_found_error"),
    (Conflict, 409, "conflict_error"),
    (PayloadTooLarge, 413, "invalid_request_error"),
    (Overloaded, 429, "rate_limit_error"),
    (Unavailable, 503, "service_unavailable_error"),
]
_HTTP_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
}


def error_response(
    *,
    path: str,
    status: int,
    message: str,
    type_: str,
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any]
    if path == "/v2" or path.startswith("/v2/"):
        body = {"error": message}
    else:
        body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    # ensure_ascii keeps the body valid UTF-8 even when a message quotes a lone surrogate.
    return Response(
        json.dumps(body, ensure_ascii=True),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def domain_error_response(exc: AimaasError, path: str) -> Response:
    status, type_ = 500, "server_error"
    for cls, cls_status, cls_type in _STATUS:
        if isinstance(exc, cls):
            status, type_ = cls_status, cls_type
            break
    headers: dict[str, str] = {}
    if isinstance(exc, Overloaded | Unavailable):
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    return error_response(
        path=path,
        status=status,
        message=exc.message,
        type_=type_,
        param=exc.param,
        code=exc.code,
        headers=headers,
    )


def internal_error_response(path: str) -> Response:
    """For an exception nobody expected; its details go to the log, never to the client."""
    return error_response(
        path=path,
        status=500,
        message="Internal server error; the X-Request-Id header locates it in the server log.",
        type_="server_error",
    )


def _field_name(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def validation_error_response(request: Request, exc: RequestValidationError) -> Response:
    errors = exc.errors()
    first = errors[0] if errors else {"loc": ("body",), "msg": "Invalid request", "type": ""}
    loc = tuple(first.get("loc", ("body",)))
    path = request.url.path
    if (
        loc == ("body",)
        and request.method in ("POST", "PUT", "PATCH")
        and not _is_json(request.headers.get("content-type"))
    ):
        return error_response(
            path=path,
            status=415,
            message="The body must be JSON: send 'Content-Type: application/json'.",
            type_="invalid_request_error",
            param="Content-Type",
            code="unsupported_media_type",
        )
    if first.get("type") == "json_invalid":
        ctx = first.get("ctx")
        reason = ctx.get("error", "malformed JSON") if isinstance(ctx, dict) else "malformed JSON"
        message = f"The body is not valid JSON: {reason}."
        param = "body"
    elif first.get("type") == "extra_forbidden":
        param = _field_name(loc)
        message = f"Unsupported parameter '{param}'; remove it (the docs list what is supported)."
    else:
        param = _field_name(loc)
        message = f"Invalid value for '{param}': {first.get('msg', 'invalid')}."
        if len(errors) > 1:
            message += f" ({len(errors) - 1} more problem(s) in the request.)"
    return error_response(
        path=path,
        status=400,
        message=message,
        type_="invalid_request_error",
        param=param,
        code="invalid_value",
    )


def install_error_handlers(app: FastAPI) -> None:
    async def on_domain_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AimaasError)
        return domain_error_response(exc, request.url.path)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return validation_error_response(request, exc)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        message = exc.detail if isinstance(exc.detail, str) else "Request failed."
        if exc.status_code == 404 and message == "Not Found":
            message = f"No route {request.method} {request.url.path}; see /openapi.json."
        return error_response(
            path=request.url.path,
            status=exc.status_code,
            message=message,
            type_=_HTTP_TYPES.get(exc.status_code, "invalid_request_error"),
            headers=dict(exc.headers) if exc.headers else None,
        )

    app.add_exception_handler(AimaasError, on_domain_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)

"""The route class every aimaas router uses: JSON bodies parsed strictly.

Python's json module accepts NaN, Infinity and numbers like 1e999 that overflow to infinity;
they are not JSON and break whatever reads them later (FastAPI answers them with a 500).
Here they are refused as invalid JSON, as is nesting too deep for the parser.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import unquote_plus

from fastapi import Request, Response
from fastapi.routing import APIRoute

from aimaas.errors import InvalidInput


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON number")


# No request has a legitimate reason for more keys in one object; a body with a million
# keys would otherwise cost seconds of validation-error reporting.
MAX_OBJECT_MEMBERS = 10_000


def _bounded_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len(pairs) > MAX_OBJECT_MEMBERS:
        raise ValueError(f"an object has more than {MAX_OBJECT_MEMBERS} members")
    return dict(pairs)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of the range of a 64-bit float")
    return value


def parse_json(body: bytes) -> Any:
    """Parse a request body; every failure is a ``json.JSONDecodeError`` with a reason."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise json.JSONDecodeError("the body is not valid UTF-8", "", exc.start) from exc
    try:
        return _refuse_nul(
            text,
            json.loads(
                text,
                parse_constant=_reject_constant,
                parse_float=_finite_float,
                object_pairs_hook=_bounded_object,
            ),
        )
    except json.JSONDecodeError:
        raise
    except RecursionError as exc:
        raise json.JSONDecodeError("the JSON is nested too deeply", text, 0) from exc
    except ValueError as exc:
        raise json.JSONDecodeError(str(exc), text, 0) from exc


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _refuse_nul(text: str, value: Any) -> Any:
    """NUL characters are refused in every string: no name, id or label needs one, and
    PostgreSQL cannot store or even compare them (a query with one fails)."""
    if "\\u0000" in text and _has_nul(value):
        raise json.JSONDecodeError(
            "a string holds a NUL character (\\u0000), which is not allowed",
            text,
            text.index("\\u0000"),
        )
    return value


class StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json(await self.body())
        return self._json


class AimaasRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            query = unquote_plus(request.scope.get("query_string", b"").decode("latin-1"))
            if "\x00" in request.scope["path"] or "\x00" in query:
                raise InvalidInput(
                    "The URL holds a NUL character (%00), which is not allowed.", param="url"
                )
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict_handler

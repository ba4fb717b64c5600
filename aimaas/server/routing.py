"""The route class every aimaas router uses: JSON bodies parsed strictly.

Python's json module accepts NaN, Infinity and numbers like 1e999 that overflow to infinity;
they are not JSON and break whatever reads them later (FastAPI answers them with a 500).
Here they are refused as invalid JSON (``aimaas.uploads.strict_json``, the parser uploads
use too), as is nesting too deep for the parser.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import unquote_plus

from fastapi import Request, Response
from fastapi.routing import APIRoute

from aimaas.errors import InvalidInput
from aimaas.uploads import strict_json

# No request has a legitimate reason for more keys in one object; a body with a million
# keys would otherwise cost seconds of validation-error reporting.
MAX_OBJECT_MEMBERS = 10_000


def parse_json(body: bytes) -> Any:
    """Parse a request body; every failure is a ``json.JSONDecodeError`` with a reason."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise json.JSONDecodeError("the body is not valid UTF-8", "", exc.start) from exc
    value = strict_json.parse(text, finite_numbers=True, max_members=MAX_OBJECT_MEMBERS)
    return _refuse_nul(text, value)


def _nul_at(value: Any, path: str) -> str | None:
    """Where in ``value`` a string holds a NUL (``name``, ``messages[0].content``), or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if "\x00" in key:
                return where
            found = _nul_at(item, where)
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_at(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def _refuse_nul(text: str, value: Any) -> Any:
    """NUL characters are refused in every string: no name, id or label needs one, and
    PostgreSQL cannot store or even compare them (a query with one fails)."""
    where = _nul_at(value, "") if "\\u0000" in text else None
    if where is not None:
        field = where or "body"
        raise InvalidInput(
            f"{field}: a NUL character (\\u0000) is not allowed in a string.", param=field
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
            strict = StrictJSONRequest(request.scope, request.receive)
            if b"json" in strict.headers.get("content-type", "").encode():
                body = await strict.body()  # cached: FastAPI reads the same bytes
                if b"\\u0000" in body:
                    # Refused here, naming the field: FastAPI would turn it into a bare 400.
                    with contextlib.suppress(json.JSONDecodeError):
                        await strict.json()
            return await handler(strict)

        return strict_handler

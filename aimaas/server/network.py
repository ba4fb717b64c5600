"""The network edge: TLS, which Host names the server answers (against DNS rebinding) and
which browser origins may call it (CORS, closed unless configured).

DNS rebinding: a web page on ``evil.example`` re-points its own name at 127.0.0.1 and has
the victim's browser call the local server; the browser then sends ``Host: evil.example``.
Answering only the names the operator lists (``AIMAAS_SERVER__ALLOWED_HOSTS``; loopback and
the bind address by default) closes that door, ``/health`` included.
"""

from __future__ import annotations

import ipaddress
import re
import ssl
from collections.abc import Sequence
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from aimaas.config import ServerSettings
from aimaas.errors import InvalidInput
from aimaas.server.errors import error_response

_HOST = re.compile(r"^(?:\[(?P<ipv6>[0-9A-Fa-f:.]+)\]|(?P<name>[^:\[\]/@\s]+))(?::\d{1,5})?$")
# What a browser script may send and read across origins.
CORS_HEADERS = ("Authorization", "Content-Type", "X-Request-Id")
CORS_EXPOSED = ("X-Request-Id", "Retry-After")


def normalise_host(pattern: str) -> str:
    """A configured host as the Host header carries it: lower case, IPv6 in brackets."""
    value = pattern.strip().lower().rstrip(".")
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    try:
        if ipaddress.ip_address(value).version == 6:
            return f"[{value}]"
    except ValueError:
        pass
    return value


def host_of(header: str | None) -> str | None:
    """The host part of a Host header, normalised; None if it is missing or malformed."""
    if not header or len(header) > 1024:
        return None
    match = _HOST.fullmatch(header.strip())
    if match is None:
        return None
    if match["ipv6"] is not None:
        try:
            ipaddress.IPv6Address(match["ipv6"])
        except ValueError:
            return None
        return normalise_host(match["ipv6"])
    return normalise_host(match["name"])


class AllowedHostsMiddleware:
    """Answers 400 (an OpenAI-style error naming ``Host``) to a request whose Host header is
    not one of ``hosts``: exact names, ``*.domain`` for its subdomains, or ``*`` for any."""

    def __init__(self, app: ASGIApp, *, hosts: Sequence[str]) -> None:
        self.app = app
        self.any = "*" in hosts
        self.exact = {normalise_host(h) for h in hosts if not h.startswith("*")}
        self.suffixes = tuple(normalise_host(h)[1:] for h in hosts if h.startswith("*."))

    def allowed(self, header: str | None) -> bool:
        host = host_of(header)
        return host is not None and (host in self.exact or host.endswith(self.suffixes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.any or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        header = Headers(scope=scope).get("host")
        if self.allowed(header):
            await self.app(scope, receive, send)
            return
        shown = (header or "")[:64]
        response = error_response(
            path=scope["path"],
            status=400,
            message=f"This server does not answer to the host {shown!r}; use one of its "
            "allowed names, or add it to AIMAAS_SERVER__ALLOWED_HOSTS.",
            type_="invalid_request_error",
            param="Host",
            code="invalid_host",
        )
        await response(scope, receive, send)


def cors_options(origins: Sequence[str]) -> dict[str, Any]:
    """CORSMiddleware's options for exactly ``origins`` (add it only when there are some).
    Keys travel in the Authorization header, never in cookies, so credentials stay off."""
    return {
        "allow_origins": list(origins),
        "allow_methods": ["GET", "POST", "PUT", "DELETE", "OPTIONS"],
        "allow_headers": list(CORS_HEADERS),
        "expose_headers": list(CORS_EXPOSED),
        "allow_credentials": False,
        "max_age": 600,
    }


def tls_files(server: ServerSettings) -> tuple[str, str] | tuple[None, None]:
    """uvicorn's ``ssl_certfile`` and ``ssl_keyfile``, or None twice for plain HTTP; the pair is
    loaded once here so that a wrong path or a key that does not match the certificate is
    one clear line at start, not a traceback."""
    cert, key = server.ssl_certfile, server.ssl_keyfile
    if cert is None and key is None:
        return None, None
    if cert is None or key is None:
        raise InvalidInput(
            "--ssl-certfile and --ssl-keyfile go together (AIMAAS_SERVER__SSL_CERTFILE and "
            "AIMAAS_SERVER__SSL_KEYFILE): give both, or neither for plain HTTP.",
            param="ssl_certfile" if cert is None else "ssl_keyfile",
        )
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise InvalidInput(
            f"Cannot serve TLS with certificate {str(cert)!r} and key {str(key)!r}: "
            f"{getattr(exc, 'strerror', None) or exc}. Give PEM files, the key matching the "
            "certificate.",
            param="ssl_certfile",
        ) from None
    return str(cert), str(key)

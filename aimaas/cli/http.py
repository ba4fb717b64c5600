"""Talking to a running server from the CLI: where it is, which key, and errors as one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from aimaas.cli.backend import CliError
from aimaas.config import Settings


def server_url(settings: Settings) -> str:
    if settings.client.url:
        return settings.client.url.rstrip("/")
    host = settings.server.host if settings.server.host not in ("0.0.0.0", "::") else "127.0.0.1"
    return f"http://{host}:{settings.server.port}"


def api_key(settings: Settings) -> str:
    """--api-key / AIMAAS_API_KEY, else the admin key of the local data directory."""
    if settings.client.api_key:
        return settings.client.api_key
    key_file = settings.storage.admin_key_file
    if key_file.is_file():
        return key_file.read_text().strip()
    raise CliError("No key: pass --api-key or set AIMAAS_API_KEY.")


def server_client(settings: Settings, *, timeout: float | None = 300) -> httpx.Client:
    headers = {"Authorization": f"Bearer {api_key(settings)}"}
    return httpx.Client(base_url=server_url(settings), headers=headers, timeout=timeout)


def error_message(response: httpx.Response) -> str:
    """``STATUS: message`` from an error response (OpenAI or v2 body, or its text)."""
    try:
        body = response.json()
        error = body["error"]
        message = error["message"] if isinstance(error, dict) else str(error)
    except (ValueError, KeyError, TypeError):
        message = response.text[:200]
    return f"{response.status_code}: {message}"


def checked(response: httpx.Response) -> Any:
    """The JSON body of a successful response; CliError with the server's message if not."""
    if response.is_error:
        response.read()
        raise CliError(error_message(response))
    return response.json()


def unreachable(url: object, exc: Exception) -> CliError:
    return CliError(
        f"Cannot reach the server at {url} ({type(exc).__name__}); start it with "
        "`aimaas serve` or pass --url."
    )


def file_id(client: httpx.Client, file: str, *, purpose: str) -> str:
    """The id of ``file``: uploaded first if it is a path on this machine, else taken as the
    id of a file uploaded before."""
    path = Path(file)
    if not path.is_file():
        return file
    with path.open("rb") as handle:
        uploaded = checked(
            client.post("/v1/files", files={"file": (path.name, handle)}, data={"purpose": purpose})
        )
    return str(uploaded["id"])

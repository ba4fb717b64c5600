"""``aimaas chat``: an interactive, streaming chat against a running server."""

from __future__ import annotations

import json
from typing import Any

import httpx

from aimaas.cli.backend import CliError
from aimaas.config import Settings


def _server_url(settings: Settings) -> str:
    if settings.client.url:
        return settings.client.url.rstrip("/")
    host = settings.server.host if settings.server.host not in ("0.0.0.0", "::") else "127.0.0.1"
    return f"http://{host}:{settings.server.port}"


def _api_key(settings: Settings) -> str:
    if settings.client.api_key:
        return settings.client.api_key
    key_file = settings.storage.admin_key_file
    if key_file.is_file():
        return key_file.read_text().strip()
    raise CliError("No key: pass --api-key or set AIMAAS_API_KEY.")


def stream_reply(
    client: httpx.Client, model: str, messages: list[dict[str, str]], max_tokens: int
) -> str:
    """Send the conversation, print the reply as it streams, and return it."""
    body: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "stream": True,
        "max_tokens": max_tokens,
    }
    reply = []
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        if response.is_error:
            response.read()
            try:
                message = response.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = response.text[:200]
            raise CliError(f"{response.status_code}: {message}")
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            event = json.loads(line[6:])
            if "error" in event:
                raise CliError(event["error"].get("message", "the stream failed"))
            for choice in event.get("choices", []):
                piece = (choice.get("delta") or {}).get("content") or ""
                reply.append(piece)
                print(piece, end="", flush=True)
    print()
    return "".join(reply)


def run_chat(settings: Settings, *, model: str, max_tokens: int) -> None:
    url = _server_url(settings)
    headers = {"Authorization": f"Bearer {_api_key(settings)}"}
    messages: list[dict[str, str]] = []
    with httpx.Client(base_url=url, headers=headers, timeout=None) as client:
        print(f"Chatting with {model} at {url}. Ctrl-D to end.")
        while True:
            try:
                prompt = input("you> ")
            except (EOFError, KeyboardInterrupt):
                print()
                return
            if not prompt.strip():
                continue
            messages.append({"role": "user", "content": prompt})
            print(f"{model}> ", end="", flush=True)
            try:
                reply = stream_reply(client, model, messages, max_tokens)
            except httpx.HTTPError as exc:
                raise CliError(
                    f"Cannot reach {url} ({exc.__class__.__name__}); start it with `aimaas serve`."
                ) from exc
            messages.append({"role": "assistant", "content": reply})

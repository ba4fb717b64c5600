"""``aimaas chat``: an interactive, streaming chat against a running server."""

from __future__ import annotations

import json
from typing import Any

import httpx

from aimaas.cli.backend import CliError
from aimaas.cli.http import checked, server_client, unreachable
from aimaas.config import Settings


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
            checked(response)
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
    messages: list[dict[str, str]] = []
    with server_client(settings, timeout=None) as client:
        print(f"Chatting with {model} at {client.base_url}. Ctrl-D to end.")
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
                raise unreachable(client.base_url, exc) from exc
            messages.append({"role": "assistant", "content": reply})

"""llama.cpp's OpenAI-shaped stream chunks, made exactly OpenAI-shaped, and joined into a
complete response for clients that did not ask to stream."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from aimaas import __version__

Chunk = dict[str, Any]
FINGERPRINT = f"aimaas-{__version__}"


def clean_chunk(chunk: Chunk, *, model: str, legacy_logprobs: bool) -> Chunk:
    """Our model name instead of the file path, no llama.cpp-only fields, and for
    ``/v1/completions`` the legacy logprobs layout the OpenAI API uses there."""
    chunk.pop("timings", None)
    chunk["model"] = model
    chunk["system_fingerprint"] = FINGERPRINT
    if legacy_logprobs:
        for choice in chunk.get("choices", []):
            choice["logprobs"] = legacy_completion_logprobs(choice.get("logprobs"))
    return chunk


def legacy_completion_logprobs(logprobs: Any) -> dict[str, Any] | None:
    """{"content": [token entries]} -> {"tokens", "token_logprobs", "top_logprobs",
    "text_offset"}, relative to the chunk's own text."""
    if not isinstance(logprobs, dict) or "content" not in logprobs:
        return logprobs if isinstance(logprobs, dict) else None
    entries = logprobs.get("content") or []
    offsets, position = [], 0
    for entry in entries:
        offsets.append(position)
        position += len(entry.get("token", ""))
    return {
        "tokens": [e.get("token", "") for e in entries],
        "token_logprobs": [e.get("logprob") for e in entries],
        "top_logprobs": [
            {t.get("token", ""): t.get("logprob") for t in e.get("top_logprobs", [])}
            for e in entries
        ],
        "text_offset": offsets,
    }


def error_of(chunk: Chunk) -> dict[str, Any] | None:
    error = chunk.get("error")
    return error if isinstance(error, dict) else None


def usage_of(chunk: Chunk) -> dict[str, int] | None:
    usage = chunk.get("usage")
    if not isinstance(usage, dict):
        return None
    return {
        "prompt_tokens": int(usage.get("prompt_tokens", 0)),
        "completion_tokens": int(usage.get("completion_tokens", 0)),
        "total_tokens": int(usage.get("total_tokens", 0)),
    }


def has_tokens(chunk: Chunk) -> bool:
    """Whether a chunk carries generated text (for time-to-first-token)."""
    for choice in chunk.get("choices", []):
        delta = choice.get("delta")
        if delta is not None and (delta.get("content") or delta.get("tool_calls")):
            return True
        if choice.get("text"):
            return True
    return False


def _merge_logprobs(target: dict[str, Any], part: Any, *, legacy: bool) -> dict[str, Any] | None:
    if not isinstance(part, dict):
        return target or None
    if not target:
        return copy.deepcopy(part)
    keys = ("tokens", "token_logprobs", "top_logprobs", "text_offset") if legacy else ("content",)
    for key in keys:
        target.setdefault(key, []).extend(part.get(key) or [])
    return target


def join_chat(chunks: Iterable[Chunk]) -> Chunk:
    """Stream chunks of a chat completion -> one ``chat.completion`` object."""
    head: Chunk = {}
    choices: dict[int, dict[str, Any]] = {}
    usage = None
    for chunk in chunks:
        head = head or chunk
        usage = usage_of(chunk) or usage
        for part in chunk.get("choices", []):
            choice = choices.setdefault(
                part.get("index", 0),
                {"content": "", "reasoning": "", "tool_calls": {}, "logprobs": {}, "finish": None},
            )
            delta = part.get("delta") or {}
            choice["content"] += delta.get("content") or ""
            choice["reasoning"] += delta.get("reasoning_content") or ""
            for call in delta.get("tool_calls") or []:
                slot = choice["tool_calls"].setdefault(
                    call.get("index", 0),
                    {"id": None, "type": "function", "function": {"name": "", "arguments": ""}},
                )
                slot["id"] = call.get("id") or slot["id"]
                function = call.get("function") or {}
                slot["function"]["name"] += function.get("name") or ""
                slot["function"]["arguments"] += function.get("arguments") or ""
            choice["logprobs"] = _merge_logprobs(
                choice["logprobs"], part.get("logprobs"), legacy=False
            )
            choice["finish"] = part.get("finish_reason") or choice["finish"]
    out_choices = []
    for index in sorted(choices):
        choice = choices[index]
        message: dict[str, Any] = {"role": "assistant", "content": choice["content"] or None}
        if choice["reasoning"]:
            message["reasoning_content"] = choice["reasoning"]
        if choice["tool_calls"]:
            message["tool_calls"] = [choice["tool_calls"][i] for i in sorted(choice["tool_calls"])]
        elif message["content"] is None:
            message["content"] = ""
        out_choices.append(
            {
                "index": index,
                "message": message,
                "logprobs": choice["logprobs"] or None,
                "finish_reason": choice["finish"] or "stop",
            }
        )
    return _envelope(head, "chat.completion", out_choices, usage)


def join_completion(chunks: Iterable[Chunk]) -> Chunk:
    """Stream chunks of a text completion -> one ``text_completion`` object."""
    head: Chunk = {}
    choices: dict[int, dict[str, Any]] = {}
    usage = None
    for chunk in chunks:
        head = head or chunk
        usage = usage_of(chunk) or usage
        for part in chunk.get("choices", []):
            choice = choices.setdefault(
                part.get("index", 0), {"text": "", "logprobs": {}, "finish": None}
            )
            choice["text"] += part.get("text") or ""
            choice["logprobs"] = _merge_logprobs(
                choice["logprobs"], part.get("logprobs"), legacy=True
            )
            choice["finish"] = part.get("finish_reason") or choice["finish"]
    for choice in choices.values():
        logprobs = choice["logprobs"]
        if logprobs and "tokens" in logprobs:  # offsets run over the whole text
            position, offsets = 0, []
            for token in logprobs["tokens"]:
                offsets.append(position)
                position += len(token)
            logprobs["text_offset"] = offsets
    return _envelope(
        head,
        "text_completion",
        [
            {
                "index": i,
                "text": choices[i]["text"],
                "logprobs": choices[i]["logprobs"] or None,
                "finish_reason": choices[i]["finish"] or "stop",
            }
            for i in sorted(choices)
        ],
        usage,
    )


def _envelope(
    head: Chunk, object_: str, choices: list[dict[str, Any]], usage: dict[str, int] | None
) -> Chunk:
    """The complete response around joined choices, with the stream's id and time."""
    return {
        "id": head.get("id", ""),
        "object": object_,
        "created": head.get("created", 0),
        "model": head.get("model", ""),
        "system_fingerprint": FINGERPRINT,
        "choices": choices,
        "usage": usage,
    }

"""Tool calls that hold whatever the model writes, on llama.cpp's stream.

llama.cpp recognises a model's own call syntax (Qwen's and Hermes' ``<tool_call>`` tags) and
turns it into ``tool_calls`` deltas. Two gaps remain, closed here:

- ``tool_choice`` ``required`` or a named function: llama.cpp's grammar lets text come
  before the call, and small models (Qwen2.5-Coder-1.5B) write a bare JSON call there and
  never open the tag. So such a request is sent with a JSON schema instead (one object per
  tool: ``{"name": <that tool>, "arguments": <its parameters>}``): the grammar constrains the
  answer to a valid call from its first token, and ``ForcedCall`` turns the streamed JSON
  into tool-call deltas (the name, then the arguments piece by piece).
- ``auto``: a model that answers with a bare JSON call (``{"name": ..., "arguments": ...}``,
  possibly in a json code fence) instead of its tags. ``BareCall`` holds back an answer that
  starts with ``{`` or a fence and, at its end, sends it as a tool call if it is a call of
  one of the request's tools, or as the text it was otherwise.

Both work per choice (``n`` > 1) on llama.cpp's raw OpenAI-shaped chunks.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aimaas.engine.types import Chunk

# What comes before the arguments of a call the schema forces: name first, then arguments.
_FORCED_HEAD = re.compile(
    r'\s*(?:```(?:json)?\s*)?\{\s*"name"\s*:\s*"((?:[^"\\]|\\.)*)"\s*,\s*"arguments"\s*:\s*'
)
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def call_schema(tools: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON schema of one call of one of ``tools`` (OpenAI tool definitions)."""
    options = []
    for tool in tools:
        function = tool["function"]
        parameters = function.get("parameters") or {"type": "object"}
        options.append(
            {
                "type": "object",
                "properties": {"name": {"const": function["name"]}, "arguments": parameters},
                "required": ["name", "arguments"],
            }
        )
    return options[0] if len(options) == 1 else {"anyOf": options}


def force_call(body: dict[str, Any]) -> None:
    """Make a llama.cpp chat body answer with exactly one call of its tools."""
    body["response_format"] = {
        "type": "json_schema",
        "json_schema": {"name": "tool_call", "schema": call_schema(body["tools"])},
    }
    body["parallel_tool_calls"] = False


def _call_id() -> str:
    return "call_" + secrets.token_urlsafe(18)


def _header(name: str) -> dict[str, Any]:
    return {
        "index": 0,
        "id": _call_id(),
        "type": "function",
        "function": {"name": name, "arguments": ""},
    }


def _arguments(text: str) -> dict[str, Any]:
    return {"index": 0, "function": {"arguments": text}}


@dataclass
class _Forced:
    text: str = ""  # the JSON so far, not yet sent
    named: bool = False
    sent_call: bool = False


class _PerChoice:
    """A rewrite of each choice of each chunk, in place, as the stream passes."""

    async def transform(self, chunks: AsyncIterator[Chunk]) -> AsyncIterator[Chunk]:
        async for chunk in chunks:
            for choice in chunk.get("choices") or []:
                self._choice(choice)
            yield chunk

    def _choice(self, choice: dict[str, Any]) -> None:
        raise NotImplementedError


class ForcedCall(_PerChoice):
    """The streamed JSON of a schema-forced call -> tool-call deltas."""

    def __init__(self) -> None:
        self._choices: dict[int, _Forced] = {}

    def _choice(self, choice: dict[str, Any]) -> None:
        state = self._choices.setdefault(choice.get("index", 0), _Forced())
        delta = choice.get("delta") or {}
        state.text += delta.pop("content", None) or ""
        calls: list[dict[str, Any]] = []
        if not state.named:
            head = _FORCED_HEAD.match(state.text)
            if head is not None:
                calls.append(_header(json.loads(f'"{head.group(1)}"')))
                state.text = state.text[head.end() :]
                state.named = state.sent_call = True
        finish = choice.get("finish_reason")
        if state.named:
            # Hold back from the last '}' on: it may close the outer object (not arguments).
            end = state.text.rfind("}")
            if finish is not None:
                piece, state.text = (state.text[:end] if end >= 0 else state.text), ""
            elif end < 0:
                piece, state.text = state.text, ""
            else:
                piece, state.text = state.text[:end], state.text[end:]
            if piece:
                calls.append(_arguments(piece))
        elif finish is not None and state.text:  # never became a call (cut short): as text
            delta["content"], state.text = state.text, ""
        if calls:
            delta["tool_calls"] = calls
        if finish == "stop" and state.sent_call:
            choice["finish_reason"] = "tool_calls"
        choice["delta"] = delta


@dataclass
class _Bare:
    held: str = ""
    passing: bool = False  # decided: plain text, sent as it comes


class BareCall(_PerChoice):
    """Bare JSON calls in ``auto`` answers -> tool calls; anything else untouched."""

    def __init__(self, tools: frozenset[str]) -> None:
        self.tools = tools
        self._choices: dict[int, _Bare] = {}

    def _choice(self, choice: dict[str, Any]) -> None:
        state = self._choices.setdefault(choice.get("index", 0), _Bare())
        delta = choice.get("delta") or {}
        if delta.get("tool_calls"):  # llama.cpp recognised the model's own syntax
            state.passing = True
        if not state.passing and delta.get("content"):
            state.held += delta.pop("content")
            start = state.held.lstrip()
            if start and not start.startswith(("{", "`")):
                state.passing = True
                delta["content"] = state.held
                state.held = ""
        if choice.get("finish_reason") is not None and state.held:
            call = self._call(state.held)
            if call is None:
                delta["content"] = delta.get("content", "") + state.held
            else:
                name, arguments = call
                delta["tool_calls"] = [_header(name), _arguments(arguments)]
                if choice["finish_reason"] == "stop":
                    choice["finish_reason"] = "tool_calls"
            state.held = ""
        choice["delta"] = delta

    def _call(self, text: str) -> tuple[str, str] | None:
        fenced = _FENCE.match(text)
        try:
            value = json.loads(fenced.group(1) if fenced else text)
        except ValueError:
            return None
        if not isinstance(value, dict) or value.get("name") not in self.tools:
            return None
        arguments = value.get("arguments", value.get("parameters"))
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except ValueError:
                return None
        if not isinstance(arguments, dict) or set(value) - {"name", "arguments", "parameters"}:
            return None
        return str(value["name"]), json.dumps(arguments, ensure_ascii=False)

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

Both work per choice (``n`` > 1) on the engine's typed outputs.
"""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aimaas.engine.types import (
    ChoiceDelta,
    GenerationOutput,
    GenerationRequest,
    JsonSchema,
    Tool,
    ToolCallDelta,
)

# What comes before the arguments of a call the schema forces: name first, then arguments.
_FORCED_HEAD = re.compile(
    r'\s*(?:```(?:json)?\s*)?\{\s*"name"\s*:\s*"((?:[^"\\]|\\.)*)"\s*,\s*"arguments"\s*:\s*'
)
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def call_schema(tools: tuple[Tool, ...]) -> dict[str, Any]:
    """The JSON schema of one call of one of ``tools``."""
    options = [
        {
            "type": "object",
            "properties": {
                "name": {"const": tool.name},
                "arguments": tool.parameters or {"type": "object"},
            },
            "required": ["name", "arguments"],
        }
        for tool in tools
    ]
    return options[0] if len(options) == 1 else {"anyOf": options}


def force_call(request: GenerationRequest) -> GenerationRequest:
    """The request, made to answer with exactly one call of its tools."""
    return dataclasses.replace(
        request,
        json_schema=JsonSchema(call_schema(request.tools), name="tool_call"),
        parallel_tool_calls=False,
    )


def _header(name: str) -> ToolCallDelta:
    return ToolCallDelta(index=0, id="call_" + secrets.token_urlsafe(18), name=name)


def _arguments(text: str) -> ToolCallDelta:
    return ToolCallDelta(index=0, arguments=text)


class _PerChoice:
    """A rewrite of each choice of each output, as the stream passes."""

    async def transform(
        self, outputs: AsyncIterator[GenerationOutput]
    ) -> AsyncIterator[GenerationOutput]:
        async for output in outputs:
            if output.choices:
                choices = tuple(self._choice(choice) for choice in output.choices)
                output = dataclasses.replace(output, choices=choices)
            yield output

    def _choice(self, choice: ChoiceDelta) -> ChoiceDelta:
        raise NotImplementedError


@dataclass
class _Forced:
    text: str = ""  # the JSON so far, not yet sent
    named: bool = False
    sent_call: bool = False


class ForcedCall(_PerChoice):
    """The streamed JSON of a schema-forced call -> tool-call deltas."""

    def __init__(self) -> None:
        self._choices: dict[int, _Forced] = {}

    def _choice(self, choice: ChoiceDelta) -> ChoiceDelta:
        state = self._choices.setdefault(choice.index, _Forced())
        state.text += choice.text
        text = ""
        calls: list[ToolCallDelta] = []
        if not state.named:
            head = _FORCED_HEAD.match(state.text)
            if head is not None:
                calls.append(_header(json.loads(f'"{head.group(1)}"')))
                state.text = state.text[head.end() :]
                state.named = state.sent_call = True
        finish = choice.finish_reason
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
            text, state.text = state.text, ""
        if finish == "stop" and state.sent_call:
            finish = "tool_calls"
        return dataclasses.replace(
            choice, text=text, tool_calls=choice.tool_calls + tuple(calls), finish_reason=finish
        )


@dataclass
class _Bare:
    held: str = ""
    passing: bool = False  # decided: plain text, sent as it comes


class BareCall(_PerChoice):
    """Bare JSON calls in ``auto`` answers -> tool calls; anything else untouched."""

    def __init__(self, tools: frozenset[str]) -> None:
        self.tools = tools
        self._choices: dict[int, _Bare] = {}

    def _choice(self, choice: ChoiceDelta) -> ChoiceDelta:
        state = self._choices.setdefault(choice.index, _Bare())
        if choice.tool_calls:  # llama.cpp recognised the model's own syntax
            state.passing = True
        text, calls, finish = choice.text, choice.tool_calls, choice.finish_reason
        if not state.passing and text:
            state.held += text
            text = ""
            start = state.held.lstrip()
            if start and not start.startswith(("{", "`")):
                state.passing = True
                text, state.held = state.held, ""
        if finish is not None and state.held:
            call = self._call(state.held)
            if call is None:
                text += state.held
            else:
                name, arguments = call
                calls = (_header(name), _arguments(arguments))
                if finish == "stop":
                    finish = "tool_calls"
            state.held = ""
        return dataclasses.replace(choice, text=text, tool_calls=calls, finish_reason=finish)

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

"""The engine's typed outputs in OpenAI's shape: stream chunks for SSE, or one complete
``chat.completion`` / ``text_completion`` object for clients that did not ask to stream.
The one place that knows these shapes (``/v1/completions`` takes the legacy logprobs
layout)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass, field
from typing import Any

from aimaas import __version__
from aimaas.engine.types import (
    ChoiceDelta,
    Endpoint,
    GenerationOutput,
    TokenLogprob,
    ToolCallDelta,
    TopLogprob,
    Usage,
)

Json = dict[str, Any]
FINGERPRINT = f"aimaas-{__version__}"


def usage_json(usage: Usage | None) -> Json | None:
    if usage is None:
        return None
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


def _token(entry: TokenLogprob | TopLogprob) -> Json:
    out: Json = {"id": entry.id} if entry.id is not None else {}  # llama.cpp's, for logit_bias
    out |= {
        "token": entry.token,
        "logprob": entry.logprob,
        "bytes": list(entry.bytes) if entry.bytes is not None else None,
    }
    return out


def _entry(entry: TokenLogprob) -> Json:
    return _token(entry) | {"top_logprobs": [_token(t) for t in entry.top]}


def chat_logprobs(entries: Iterable[TokenLogprob]) -> Json | None:
    content = [_entry(e) for e in entries]
    return {"content": content} if content else None


def legacy_logprobs(entries: Iterable[TokenLogprob]) -> Json | None:
    """The ``/v1/completions`` layout: tokens, their logprobs, the top ones as a mapping,
    and each token's offset in the text these entries cover."""
    entries = list(entries)
    if not entries:
        return None
    offsets, position = [], 0
    for entry in entries:
        offsets.append(position)
        position += len(entry.token)
    return {
        "tokens": [e.token for e in entries],
        "token_logprobs": [e.logprob for e in entries],
        "top_logprobs": [{t.token: t.logprob for t in e.top} for e in entries],
        "text_offset": offsets,
    }


def _call_delta(call: ToolCallDelta) -> Json:
    out: Json = {"index": call.index}
    function: Json = {"arguments": call.arguments}
    if call.id is not None:
        out |= {"id": call.id, "type": "function"}
    if call.name:
        function["name"] = call.name
    out["function"] = function
    return out


@dataclass
class OpenAIStream:
    """One request's outputs as OpenAI stream chunks, with one id and creation time."""

    endpoint: Endpoint
    model: str
    include_usage: bool = True
    id: str = ""
    created: int = field(default_factory=lambda: int(time.time()))
    _opened: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        if not self.id:
            prefix = "chatcmpl-" if self.endpoint == "chat" else "cmpl-"
            self.id = prefix + uuid.uuid4().hex

    def _envelope(self, object_: str, choices: list[Json]) -> Json:
        return {
            "id": self.id,
            "object": object_,
            "created": self.created,
            "model": self.model,
            "system_fingerprint": FINGERPRINT,
            "choices": choices,
        }

    def chunk(self, output: GenerationOutput) -> Json | None:
        """The chunk for one output; None for one that carries nothing to send."""
        chat = self.endpoint == "chat"
        choices = [self._chat_choice(c) if chat else self._text_choice(c) for c in output.choices]
        usage = usage_json(output.usage) if self.include_usage else None
        if not choices and usage is None:
            return None
        chunk = self._envelope("chat.completion.chunk" if chat else "text_completion", choices)
        if usage is not None:
            chunk["usage"] = usage
        return chunk

    def _chat_choice(self, choice: ChoiceDelta) -> Json:
        delta: Json = {}
        if choice.index not in self._opened:
            self._opened.add(choice.index)
            delta = {"role": "assistant", "content": None}
        if choice.text:
            delta["content"] = choice.text
        if choice.reasoning:
            delta["reasoning_content"] = choice.reasoning
        if choice.tool_calls:
            delta["tool_calls"] = [_call_delta(call) for call in choice.tool_calls]
        return {
            "index": choice.index,
            "delta": delta,
            "logprobs": chat_logprobs(choice.logprobs),
            "finish_reason": choice.finish_reason,
        }

    def _text_choice(self, choice: ChoiceDelta) -> Json:
        return {
            "index": choice.index,
            "text": choice.text,
            "logprobs": legacy_logprobs(choice.logprobs),
            "finish_reason": choice.finish_reason,
        }

    async def chunks(
        self, outputs: AsyncGenerator[GenerationOutput, None]
    ) -> AsyncGenerator[Json, None]:
        """The stream as chunks; closing it closes ``outputs`` (which aborts the sequence)."""
        try:
            async for output in outputs:
                chunk = self.chunk(output)
                if chunk is not None:
                    yield chunk
        finally:
            await outputs.aclose()

    def join(self, outputs: Iterable[GenerationOutput]) -> Json:
        """All of a request's outputs -> one complete response."""
        joined: dict[int, _Joined] = {}
        usage = None
        for output in outputs:
            usage = output.usage or usage
            for choice in output.choices:
                joined.setdefault(choice.index, _Joined()).add(choice)
        if self.endpoint == "chat":
            choices = [joined[i].chat(i) for i in sorted(joined)]
            response = self._envelope("chat.completion", choices)
        else:
            choices = [joined[i].completion(i) for i in sorted(joined)]
            response = self._envelope("text_completion", choices)
        response["usage"] = usage_json(usage)
        return response


@dataclass
class _Call:
    id: str | None = None
    name: str = ""
    arguments: str = ""


@dataclass
class _Joined:
    """One choice, put together from its deltas."""

    text: str = ""
    reasoning: str = ""
    calls: dict[int, _Call] = field(default_factory=dict)
    logprobs: list[TokenLogprob] = field(default_factory=list)
    finish: str | None = None

    def add(self, choice: ChoiceDelta) -> None:
        self.text += choice.text
        self.reasoning += choice.reasoning
        for delta in choice.tool_calls:
            call = self.calls.setdefault(delta.index, _Call())
            call.id = delta.id or call.id
            call.name += delta.name
            call.arguments += delta.arguments
        self.logprobs.extend(choice.logprobs)
        self.finish = choice.finish_reason or self.finish

    def chat(self, index: int) -> Json:
        message: Json = {"role": "assistant", "content": self.text or None}
        if self.reasoning:
            message["reasoning_content"] = self.reasoning
        if self.calls:
            message["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call in (self.calls[i] for i in sorted(self.calls))
            ]
        elif message["content"] is None:
            message["content"] = ""
        return {
            "index": index,
            "message": message,
            "logprobs": chat_logprobs(self.logprobs),
            "finish_reason": self.finish or "stop",
        }

    def completion(self, index: int) -> Json:
        return {
            "index": index,
            "text": self.text,
            "logprobs": legacy_logprobs(self.logprobs),  # offsets over the whole text
            "finish_reason": self.finish or "stop",
        }

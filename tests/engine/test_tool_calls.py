"""Reading tool calls from a chat stream: schema-forced JSON and bare JSON calls."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aimaas.engine.tool_calls import BareCall, ForcedCall, call_schema, force_call
from aimaas.engine.types import (
    ChoiceDelta,
    FinishReason,
    GenerationOutput,
    GenerationRequest,
    Tool,
    Usage,
)
from aimaas.runtime.openai_shaping import OpenAIStream

WEATHER = Tool("get_weather", {"type": "object", "properties": {"city": {"type": "string"}}})


def chunks(pieces: list[str], finish: FinishReason = "stop") -> list[GenerationOutput]:
    out = [GenerationOutput(choices=(ChoiceDelta(0, text=piece),)) for piece in pieces]
    out.append(GenerationOutput(choices=(ChoiceDelta(0, finish_reason=finish),)))
    out.append(GenerationOutput(usage=Usage(prompt_tokens=3, completion_tokens=9)))
    return out


@dataclass
class Answer:
    chunks: list[dict[str, Any]]  # what a streaming client receives
    joined: dict[str, Any]  # what a client that did not stream receives


def run(transform: Any, items: list[GenerationOutput]) -> Answer:
    async def source() -> AsyncIterator[GenerationOutput]:
        for item in items:
            yield item

    async def collect() -> list[GenerationOutput]:
        return [output async for output in transform(source())]

    outputs = asyncio.run(collect())
    stream = OpenAIStream("chat", "m")
    chunks = [c for c in (stream.chunk(o) for o in outputs) if c is not None]
    return Answer(chunks, OpenAIStream("chat", "m").join(outputs))


def test_a_forced_call_streams_its_name_then_its_arguments_in_pieces() -> None:
    text = '{"name": "get_weather", "arguments": {"city": "Paris", "unit": {"c": 1}}}'
    pieces = [text[i : i + 5] for i in range(0, len(text), 5)]
    out = run(ForcedCall().transform, chunks(pieces))
    deltas = [c["choices"][0]["delta"] for c in out.chunks if c["choices"]]
    assert not any(d.get("content") for d in deltas)
    calls = [call for d in deltas for call in d.get("tool_calls", [])]
    assert calls[0]["function"]["name"] == "get_weather" and calls[0]["id"].startswith("call_")
    assert len(calls) > 3  # arguments arrive in several deltas
    message = out.joined["choices"][0]
    assert message["finish_reason"] == "tool_calls"
    call = message["message"]["tool_calls"][0]
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris", "unit": {"c": 1}}


def test_a_forced_call_cut_short_keeps_what_was_written() -> None:
    out = run(
        ForcedCall().transform, chunks(['{"name": "get_weather", "arguments": {"ci'], "length")
    )
    choice = out.joined["choices"][0]
    assert choice["finish_reason"] == "length"
    assert choice["message"]["tool_calls"][0]["function"]["arguments"] == '{"ci'


def test_a_bare_json_call_in_auto_becomes_a_tool_call() -> None:
    for text in (
        '{"name": "get_weather", "arguments": {"city": "Oslo"}}',
        '```json\n{"name": "get_weather", "parameters": {"city": "Oslo"}}\n```',
        ' {"name": "get_weather", "arguments": "{\\"city\\": \\"Oslo\\"}"}',
    ):
        out = run(BareCall(frozenset({"get_weather"})).transform, chunks([text[:7], text[7:]]))
        choice = out.joined["choices"][0]
        assert choice["finish_reason"] == "tool_calls", text
        call = choice["message"]["tool_calls"][0]
        assert call["function"]["name"] == "get_weather"
        assert json.loads(call["function"]["arguments"]) == {"city": "Oslo"}
        assert not choice["message"]["content"]


def test_text_and_other_json_stay_text() -> None:
    for text in (
        "The weather is sunny.",
        '{"name": "send_mail", "arguments": {}}',  # not one of the request's tools
        '{"answer": 42}',
        "{not json",
    ):
        out = run(BareCall(frozenset({"get_weather"})).transform, chunks([text[:3], text[3:]]))
        choice = out.joined["choices"][0]
        assert choice["message"]["content"] == text and "tool_calls" not in choice["message"]
        assert choice["finish_reason"] == "stop"


def test_plain_text_is_not_held_back() -> None:
    out = run(BareCall(frozenset({"get_weather"})).transform, chunks(["Hello", " there"]))
    assert out.chunks[0]["choices"][0]["delta"]["content"] == "Hello"
    assert out.chunks[1]["choices"][0]["delta"]["content"] == " there"


def test_the_call_schema_binds_each_name_to_its_parameters() -> None:
    other = Tool("get_time", {})
    schema = call_schema((WEATHER, other))
    names = [option["properties"]["name"]["const"] for option in schema["anyOf"]]
    assert names == ["get_weather", "get_time"]
    assert schema["anyOf"][0]["properties"]["arguments"] == WEATHER.parameters
    assert schema["anyOf"][1]["properties"]["arguments"] == {"type": "object"}
    assert call_schema((WEATHER,))["properties"]["name"] == {"const": "get_weather"}


def test_a_forced_call_is_asked_for_with_the_call_schema_and_one_call() -> None:
    request = GenerationRequest("chat", tools=(WEATHER,), tool_choice="required")
    forced = force_call(request)
    assert forced.json_schema is not None and forced.json_schema.name == "tool_call"
    assert forced.json_schema.schema == call_schema((WEATHER,))
    assert forced.parallel_tool_calls is False and forced.tools == request.tools

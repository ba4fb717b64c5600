"""Reading tool calls from llama.cpp's chat stream: schema-forced JSON and bare JSON calls."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from aimaas.engine.chunks import join_chat
from aimaas.engine.tool_calls import BareCall, ForcedCall, call_schema

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def chunks(pieces: list[str], finish: str = "stop") -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
        for piece in pieces
    ]
    out.append({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    out.append({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 9}})
    return out


def run(transform: Any, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    async def source() -> AsyncIterator[dict[str, Any]]:
        for item in items:
            yield item

    async def collect() -> list[dict[str, Any]]:
        return [chunk async for chunk in transform(source())]

    return asyncio.run(collect())


def test_a_forced_call_streams_its_name_then_its_arguments_in_pieces() -> None:
    text = '{"name": "get_weather", "arguments": {"city": "Paris", "unit": {"c": 1}}}'
    pieces = [text[i : i + 5] for i in range(0, len(text), 5)]
    out = run(ForcedCall().transform, chunks(pieces))
    deltas = [c["choices"][0]["delta"] for c in out if c["choices"]]
    assert not any(d.get("content") for d in deltas)
    calls = [call for d in deltas for call in d.get("tool_calls", [])]
    assert calls[0]["function"]["name"] == "get_weather" and calls[0]["id"].startswith("call_")
    assert len(calls) > 3  # arguments arrive in several deltas
    message = join_chat(out)["choices"][0]
    assert message["finish_reason"] == "tool_calls"
    call = message["message"]["tool_calls"][0]
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris", "unit": {"c": 1}}


def test_a_forced_call_cut_short_keeps_what_was_written() -> None:
    out = run(
        ForcedCall().transform, chunks(['{"name": "get_weather", "arguments": {"ci'], "length")
    )
    choice = join_chat(out)["choices"][0]
    assert choice["finish_reason"] == "length"
    assert choice["message"]["tool_calls"][0]["function"]["arguments"] == '{"ci'


def test_a_bare_json_call_in_auto_becomes_a_tool_call() -> None:
    for text in (
        '{"name": "get_weather", "arguments": {"city": "Oslo"}}',
        '```json\n{"name": "get_weather", "parameters": {"city": "Oslo"}}\n```',
        ' {"name": "get_weather", "arguments": "{\\"city\\": \\"Oslo\\"}"}',
    ):
        out = run(BareCall(frozenset({"get_weather"})).transform, chunks([text[:7], text[7:]]))
        choice = join_chat(out)["choices"][0]
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
        choice = join_chat(out)["choices"][0]
        assert choice["message"]["content"] == text and "tool_calls" not in choice["message"]
        assert choice["finish_reason"] == "stop"


def test_plain_text_is_not_held_back() -> None:
    out = run(BareCall(frozenset({"get_weather"})).transform, chunks(["Hello", " there"]))
    assert out[0]["choices"][0]["delta"]["content"] == "Hello"
    assert out[1]["choices"][0]["delta"]["content"] == " there"


def test_the_call_schema_binds_each_name_to_its_parameters() -> None:
    other = {"type": "function", "function": {"name": "get_time"}}
    schema = call_schema([WEATHER, other])
    names = [option["properties"]["name"]["const"] for option in schema["anyOf"]]
    assert names == ["get_weather", "get_time"]
    assert schema["anyOf"][0]["properties"]["arguments"] == WEATHER["function"]["parameters"]
    assert call_schema([WEATHER])["properties"]["name"] == {"const": "get_weather"}

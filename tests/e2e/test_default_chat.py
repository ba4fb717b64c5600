"""The default chat model as a user meets it, through the official `openai` client: right
answers to short questions, and tool calls (required and named: a valid call by grammar;
auto: its own tags or a bare JSON call; streamed as deltas)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from aimaas.runtime.defaults import DEFAULT_CHAT_MODEL
from tests.e2e.server import start_server
from tests.e2e.test_llm import TIME, WEATHER

pytestmark = pytest.mark.e2e

MODEL = DEFAULT_CHAT_MODEL


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[openai.OpenAI]:
    data_dir: Path = tmp_path_factory.mktemp("default-chat") / "data"
    with start_server(data_dir, env={"AIMAAS_ENGINE__PARALLEL": "2"}) as server:
        yield server.openai()


def ask(client: openai.OpenAI, question: str) -> str:
    answer = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": question}],
        max_tokens=24,
        temperature=0,
    )
    return answer.choices[0].message.content or ""


def test_it_answers_short_questions_right(client: openai.OpenAI) -> None:
    assert "Paris" in ask(client, "What is the capital of France?")
    assert ask(client, "What is 17 + 25? Reply with only the number.").strip() == "42"
    assert "Au" in ask(client, "What is the chemical symbol for gold?")


def test_it_streams_its_answer(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Name the largest planet of the solar system."}],
        max_tokens=24,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, usage = [], None
    for chunk in stream:
        pieces += [c.delta.content or "" for c in chunk.choices]
        usage = chunk.usage or usage
    assert "Jupiter" in "".join(pieces)
    assert usage is not None and 0 < usage.completion_tokens <= 24


def call(client: openai.OpenAI, question: str, choice: object) -> tuple[str, dict[str, object]]:
    response = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": question}],
        tools=[WEATHER, TIME],  # type: ignore[list-item]
        tool_choice=choice,  # type: ignore[arg-type]
        temperature=0,
        max_tokens=64,
    )
    answer = response.choices[0]
    assert answer.finish_reason == "tool_calls", answer
    assert answer.message.tool_calls and len(answer.message.tool_calls) == 1, answer.message
    first = answer.message.tool_calls[0]
    assert first.type == "function" and first.id
    return first.function.name, json.loads(first.function.arguments)


@pytest.mark.parametrize("choice", ["required", "auto"])
def test_it_calls_the_right_tool(client: openai.OpenAI, choice: str) -> None:
    name, arguments = call(client, "What is the weather in Paris?", choice)
    assert (name, arguments) == ("get_weather", {"city": "Paris"})
    name, arguments = call(client, "What time is it in Tokyo?", choice)
    assert name == "get_time" and "Tokyo" in str(arguments["timezone"]), arguments


def test_a_named_choice_is_obeyed(client: openai.OpenAI) -> None:
    named = {"type": "function", "function": {"name": "get_weather"}}
    name, arguments = call(client, "What time is it in Paris?", named)
    assert name == "get_weather" and isinstance(arguments["city"], str), arguments


def test_none_answers_in_text(client: openai.OpenAI) -> None:
    """With tools but tool_choice none, the answer is text. (Under auto this model calls a
    tool even for questions no tool fits: docs/llm.md.)"""
    response = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "What is the capital of Italy?"}],
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice="none",
        temperature=0,
        max_tokens=24,
    )
    message = response.choices[0].message
    assert not message.tool_calls and "Rome" in (message.content or "")


@pytest.mark.parametrize("choice", ["required", "auto"])
def test_tool_calls_stream_as_deltas(client: openai.OpenAI, choice: str) -> None:
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "What is the weather in Oslo?"}],
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice=choice,  # type: ignore[arg-type]
        temperature=0,
        max_tokens=64,
        stream=True,
    )
    name, arguments, finish, deltas = "", "", None, 0
    for chunk in stream:
        for part in chunk.choices:
            for delta in part.delta.tool_calls or []:
                if delta.index == 0 and delta.function is not None:
                    deltas += 1
                    name += delta.function.name or ""
                    arguments += delta.function.arguments or ""
            finish = part.finish_reason or finish
    assert name == "get_weather" and json.loads(arguments) == {"city": "Oslo"}
    assert deltas >= 2  # the call's name, then its arguments
    assert finish == "tool_calls"

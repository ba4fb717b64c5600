"""The default chat model as a user meets it, through the official `openai` client: right
answers to short questions, streamed and not. (Tool calls on it: see docs/llm.md, not yet:
llama.cpp's grammar lets content come before the call, and the 1.5B writes a bare JSON
call there, which aimaas does not yet turn into a tool call.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from aimaas.runtime.defaults import DEFAULT_CHAT_MODEL
from tests.e2e.server import start_server

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

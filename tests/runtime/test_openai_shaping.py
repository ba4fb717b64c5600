"""The engine's outputs in OpenAI's shape, with hand-built outputs and no model."""

from __future__ import annotations

from aimaas.engine.types import (
    ChoiceDelta,
    GenerationOutput,
    TokenLogprob,
    ToolCallDelta,
    TopLogprob,
    Usage,
)
from aimaas.runtime.openai_shaping import FINGERPRINT, OpenAIStream


def step(*choices: ChoiceDelta) -> GenerationOutput:
    return GenerationOutput(choices=choices)


USAGE = GenerationOutput(usage=Usage(prompt_tokens=5, completion_tokens=7))


def test_join_chat_merges_choices_tool_calls_and_usage() -> None:
    outputs = [
        step(ChoiceDelta(0)),
        step(ChoiceDelta(1)),
        step(ChoiceDelta(0, text="Hel")),
        step(ChoiceDelta(1, tool_calls=(ToolCallDelta(0, id="t1", name="get_"),))),
        step(ChoiceDelta(0, text="lo", finish_reason="stop")),
        step(ChoiceDelta(1, tool_calls=(ToolCallDelta(0, name="weather", arguments='{"city"'),))),
        step(
            ChoiceDelta(
                1,
                tool_calls=(ToolCallDelta(0, arguments=': "Paris"}'),),
                finish_reason="tool_calls",
            )
        ),
        USAGE,
    ]
    joined = OpenAIStream("chat", "m").join(outputs)
    assert joined["object"] == "chat.completion" and joined["model"] == "m"
    assert joined["id"].startswith("chatcmpl-") and joined["system_fingerprint"] == FINGERPRINT
    first, second = joined["choices"]
    assert first["message"] == {"role": "assistant", "content": "Hello"}
    assert first["finish_reason"] == "stop"
    call = second["message"]["tool_calls"][0]
    assert call["id"] == "t1" and call["function"] == {
        "name": "get_weather",
        "arguments": '{"city": "Paris"}',
    }
    assert second["message"]["content"] is None and second["finish_reason"] == "tool_calls"
    assert joined["usage"] == {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}


def test_completion_logprobs_take_the_legacy_layout_with_running_offsets() -> None:
    def part(token: str, logprob: float) -> GenerationOutput:
        entry = TokenLogprob(token, logprob, top=(TopLogprob(token, logprob),))
        return step(ChoiceDelta(0, text=token, logprobs=(entry,)))

    stream = OpenAIStream("completions", "m")
    outputs = [part(t, -0.5) for t in (" Par", "is", ".")]
    chunk = stream.chunk(outputs[1])
    assert chunk is not None and chunk["choices"][0]["logprobs"]["text_offset"] == [0]
    joined = stream.join(outputs)
    logprobs = joined["choices"][0]["logprobs"]
    assert joined["choices"][0]["text"] == " Paris." and joined["object"] == "text_completion"
    assert logprobs["tokens"] == [" Par", "is", "."]
    assert logprobs["text_offset"] == [0, 4, 6]
    assert logprobs["top_logprobs"][1] == {"is": -0.5}
    plain = stream.chunk(step(ChoiceDelta(0, text="x")))
    assert plain is not None and plain["choices"][0]["logprobs"] is None


def test_chat_chunks_open_each_choice_with_the_role_and_share_one_id() -> None:
    stream = OpenAIStream("chat", "m")
    chunks = [
        stream.chunk(o)
        for o in (
            step(ChoiceDelta(0)),
            step(ChoiceDelta(0, text="Hi")),
            step(ChoiceDelta(1, text="Yo")),
        )
    ]
    assert [c["choices"][0]["delta"] for c in chunks if c] == [
        {"role": "assistant", "content": None},
        {"content": "Hi"},
        {"role": "assistant", "content": "Yo"},
    ]
    assert {c["id"] for c in chunks if c} == {stream.id}
    assert all(c and c["object"] == "chat.completion.chunk" and c["model"] == "m" for c in chunks)


def test_usage_is_sent_only_when_asked_and_empty_outputs_are_not_sent() -> None:
    assert OpenAIStream("chat", "m", include_usage=False).chunk(USAGE) is None
    assert OpenAIStream("chat", "m").chunk(GenerationOutput(busy_seconds=1.0)) is None
    chunk = OpenAIStream("chat", "m").chunk(USAGE)
    assert chunk is not None and chunk["choices"] == []
    assert chunk["usage"] == {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}


def test_a_chat_answer_with_neither_text_nor_calls_has_empty_content() -> None:
    joined = OpenAIStream("chat", "m").join([step(ChoiceDelta(0, finish_reason="length"))])
    assert joined["choices"][0]["message"] == {"role": "assistant", "content": ""}
    assert joined["choices"][0]["finish_reason"] == "length" and joined["usage"] is None

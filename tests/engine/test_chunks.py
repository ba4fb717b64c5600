"""Joining stream chunks into complete OpenAI responses, with hand-built chunks."""

from __future__ import annotations

from aimaas.engine.chunks import clean_chunk, join_chat, join_completion, legacy_completion_logprobs


def chat_chunk(
    index: int, delta: dict[str, object], finish: str | None = None
) -> dict[str, object]:
    return {
        "id": "c1",
        "created": 1,
        "model": "/path/model.gguf",
        "choices": [{"index": index, "delta": delta, "finish_reason": finish}],
    }


def test_join_chat_merges_choices_tool_calls_and_usage() -> None:
    chunks = [
        chat_chunk(0, {"role": "assistant", "content": None}),
        chat_chunk(1, {"role": "assistant", "content": None}),
        chat_chunk(0, {"content": "Hel"}),
        chat_chunk(1, {"tool_calls": [{"index": 0, "id": "t1", "function": {"name": "get_"}}]}),
        chat_chunk(0, {"content": "lo"}, "stop"),
        chat_chunk(
            1,
            {"tool_calls": [{"index": 0, "function": {"name": "weather", "arguments": '{"city"'}}]},
        ),
        chat_chunk(
            1, {"tool_calls": [{"index": 0, "function": {"arguments": ': "Paris"}'}}]}, "tool_calls"
        ),
        {
            "id": "c1",
            "choices": [],
            "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
        },
    ]
    joined = join_chat(clean_chunk(c, model="m", legacy_logprobs=False) for c in chunks)
    assert joined["object"] == "chat.completion" and joined["model"] == "m"
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
    def part(token: str, logprob: float) -> dict[str, object]:
        entry = {
            "token": token,
            "logprob": logprob,
            "top_logprobs": [{"token": token, "logprob": logprob}],
        }
        return {
            "id": "x",
            "choices": [
                {"index": 0, "text": token, "logprobs": {"content": [entry]}, "finish_reason": None}
            ],
        }

    chunks = [
        clean_chunk(part(t, -0.5), model="m", legacy_logprobs=True) for t in (" Par", "is", ".")
    ]
    joined = join_completion(chunks)
    logprobs = joined["choices"][0]["logprobs"]
    assert joined["choices"][0]["text"] == " Paris."
    assert logprobs["tokens"] == [" Par", "is", "."]
    assert logprobs["text_offset"] == [0, 4, 6]
    assert logprobs["top_logprobs"][1] == {"is": -0.5}
    assert legacy_completion_logprobs(None) is None


def test_clean_chunk_hides_the_file_path_and_llama_fields() -> None:
    chunk = {"model": "/secret/path/model.gguf", "timings": {"prompt_ms": 1}, "choices": []}
    cleaned = clean_chunk(chunk, model="public-name", legacy_logprobs=False)
    assert cleaned["model"] == "public-name" and "timings" not in cleaned
    assert "/secret" not in str(cleaned)

"""llama.cpp's JSON both ways, with hand-built requests and chunks (no model)."""

from __future__ import annotations

import pytest

from aimaas.engine.backends.llama_json import error_of, output_of, request_body
from aimaas.engine.types import (
    GenerationRequest,
    JsonSchema,
    Message,
    SamplingParams,
    Tool,
    Usage,
)
from aimaas.errors import ContextExceeded, InvalidInput, Unavailable
from aimaas.runtime.openai_shaping import OpenAIStream

CHAT = GenerationRequest("chat", messages=(Message("user", "Hi"),))


def test_a_chat_body_carries_what_was_asked_and_always_usage() -> None:
    request = GenerationRequest(
        "chat",
        messages=(Message("system", "Be brief."), Message("user", ("a", "b"), name="ann")),
        sampling=SamplingParams(temperature=0.0, seed=-1, stop=("\n",)),
        max_tokens=9,
        n=2,
        tools=(Tool("f", {"type": "object"}, "does f"),),
        tool_choice="auto",
        json_schema=JsonSchema({"type": "object"}, name="out"),
        logprobs=True,
        top_logprobs=3,
    )
    body = request_body(request)
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
         "name": "ann"},
    ]  # fmt: skip
    assert body["temperature"] == 0.0 and body["seed"] == 2**32 - 1  # 32-bit seeds
    assert body["stop"] == ["\n"] and body["max_tokens"] == 9 and body["n"] == 2
    assert body["tools"] == [
        {"type": "function", "function": {"name": "f", "parameters": {"type": "object"},
                                          "description": "does f"}}
    ]  # fmt: skip
    assert body["tool_choice"] == "auto"
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "out", "schema": {"type": "object"}},
    }
    assert body["logprobs"] is True and body["top_logprobs"] == 3
    assert "top_p" not in body and "prompt" not in body


def test_a_completion_body_sends_one_prompt_as_text_and_logprobs_as_a_count() -> None:
    body = request_body(
        GenerationRequest("completions", prompts=("Once",), logprobs=True, top_logprobs=2)
    )
    assert body["prompt"] == "Once" and body["logprobs"] == 2 and "messages" not in body
    two = request_body(GenerationRequest("completions", prompts=("a", "b")))
    assert two["prompt"] == ["a", "b"] and "logprobs" not in two
    assert request_body(GenerationRequest("chat", json_schema=JsonSchema(None)))[
        "response_format"
    ] == {"type": "json_object"}


def test_chunks_become_typed_outputs_without_llama_fields() -> None:
    chunk = {
        "id": "x",
        "model": "/secret/path/model.gguf",
        "timings": {"prompt_ms": 100.0, "predicted_ms": 400.0},
        "choices": [
            {
                "index": 1,
                "delta": {
                    "content": "Hi",
                    "reasoning_content": "hm",
                    "tool_calls": [{"index": 0, "id": "t", "function": {"name": "f"}}],
                },
                "logprobs": {"content": [{"id": 7, "token": "Hi", "logprob": -0.1,
                                          "bytes": [72, 105], "top_logprobs": []}]},
                "finish_reason": "stop",
            }
        ],
    }  # fmt: skip
    output = output_of(chunk, CHAT)
    (choice,) = output.choices
    assert (choice.index, choice.text, choice.reasoning, choice.finish_reason) == (
        1, "Hi", "hm", "stop"
    )  # fmt: skip
    assert choice.tool_calls[0].id == "t" and choice.tool_calls[0].name == "f"
    assert choice.logprobs[0].token == "Hi" and choice.logprobs[0].bytes == (72, 105)
    assert output.busy_seconds == pytest.approx(0.5) and output.usage is None
    shaped = OpenAIStream("chat", "public-name").chunk(output)
    assert shaped is not None and shaped["model"] == "public-name"
    assert "/secret" not in str(shaped) and "timings" not in shaped
    assert shaped["choices"][0]["logprobs"]["content"][0]["id"] == 7  # for logit_bias
    usage = output_of({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}}, CHAT)
    assert usage.usage == Usage(3, 4) and usage.choices == ()
    text = output_of({"choices": [{"index": 0, "text": " Paris", "finish_reason": None}]}, CHAT)
    assert text.choices[0].text == " Paris" and text.choices[0].finish_reason is None


def test_errors_become_domain_errors_naming_the_prompt() -> None:
    context = {"type": "exceed_context_size_error", "n_prompt_tokens": 900, "n_ctx": 512,
               "code": 400, "message": "the request exceeds the context size"}  # fmt: skip
    with pytest.raises(ContextExceeded) as exceeded:
        output_of({"error": context}, CHAT)
    assert exceeded.value.param == "messages"
    assert exceeded.value.message.startswith(
        "The prompt has 900 tokens; this model takes at most 512"
    )
    completion = GenerationRequest("completions", prompts=("x",))
    assert error_of(context, completion).param == "prompt"
    refused = error_of({"code": 400, "message": "bad grammar"}, CHAT)
    assert isinstance(refused, InvalidInput) and refused.message == "bad grammar"
    failed = error_of({"code": 500, "message": "oops"}, CHAT)
    assert isinstance(failed, Unavailable) and failed.message == "The model failed: oops"


def test_a_previous_tool_call_and_its_answer_are_sent_as_the_client_sent_them() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    request = GenerationRequest(
        "chat",
        messages=(
            Message("assistant", None, tool_calls=(call,)),
            Message("tool", "4", tool_call_id="c1"),
        ),
        tools=(Tool("f", {"type": "object"}, strict=True),),
        json_schema=JsonSchema({"type": "object"}, description="the answer", strict=False),
    )  # fmt: skip
    body = request_body(request)
    assert body["messages"] == [
        {"role": "assistant", "tool_calls": [call]},  # no content: none sent
        {"role": "tool", "content": "4", "tool_call_id": "c1"},
    ]
    assert body["tools"][0]["function"] == {
        "name": "f", "parameters": {"type": "object"}, "strict": True
    }  # fmt: skip
    assert body["response_format"]["json_schema"] == {
        "name": "response", "schema": {"type": "object"}, "description": "the answer",
        "strict": False,
    }  # fmt: skip
    assert "tool_choice" not in body and "seed" not in body and "stop" not in body


def test_top_logprobs_and_unknown_finish_reasons() -> None:
    entry = {"token": "a", "logprob": -1.5, "top_logprobs": [
        {"token": "a", "logprob": -1.5, "id": 3, "bytes": [97]}, {"token": "b", "logprob": -2.0},
    ]}  # fmt: skip
    chunk = {"choices": [{"index": 0, "delta": {}, "logprobs": {"content": [entry]},
                          "finish_reason": "eos_token"}]}  # fmt: skip
    (choice,) = output_of(chunk, CHAT).choices
    assert choice.finish_reason is None and choice.text == ""  # only OpenAI's reasons pass
    (logprob,) = choice.logprobs
    assert (logprob.token, logprob.logprob, logprob.id, logprob.bytes) == ("a", -1.5, None, None)
    assert [(t.token, t.logprob, t.id, t.bytes) for t in logprob.top] == [
        ("a", -1.5, 3, (97,)), ("b", -2.0, None, None)
    ]  # fmt: skip
    no_timings = output_of({"choices": [], "timings": {"predicted_ms": 5.0}}, CHAT)
    assert no_timings.busy_seconds is None  # only with the prompt's time too

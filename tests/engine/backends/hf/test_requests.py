"""hf/requests.py: a request's sampling as the transformers engine takes it (llama.cpp's
defaults, temperature 0 greedy), its messages as chat templates take them, one prompt."""

from __future__ import annotations

import pytest

from aimaas.engine.backends.hf.requests import (
    DEFAULT_TEMPERATURE,
    DEFAULT_TOP_K,
    DEFAULT_TOP_P,
    chat_messages,
    completion_prompt,
    sampling_kwargs,
)
from aimaas.engine.types import GenerationRequest, Message, SamplingParams
from aimaas.errors import InvalidInput

GREEDY = {"temperature": 1.0, "top_k": 1, "top_p": 1.0}


def test_unset_values_are_llama_cpps_defaults() -> None:
    assert (DEFAULT_TEMPERATURE, DEFAULT_TOP_K, DEFAULT_TOP_P) == (0.8, 40, 0.95)
    assert sampling_kwargs(SamplingParams(), vocab_size=300) == {
        "temperature": 0.8, "top_k": 40, "top_p": 0.95
    }  # fmt: skip
    asked = SamplingParams(temperature=1.2, top_k=5, top_p=0.5)
    assert sampling_kwargs(asked, 300) == {"temperature": 1.2, "top_k": 5, "top_p": 0.5}


def test_temperature_zero_or_below_is_greedy_whatever_else_is_asked() -> None:
    assert sampling_kwargs(SamplingParams(temperature=0), 300) == GREEDY
    assert sampling_kwargs(SamplingParams(temperature=-1, top_k=50, top_p=0.1), 300) == GREEDY


@pytest.mark.parametrize(("top_k", "sent"), [(0, 300), (-3, 300), (300, 300), (1000, 300), (1, 1)])
def test_top_k_off_or_past_the_vocabulary_is_the_vocabulary(top_k: int, sent: int) -> None:
    assert sampling_kwargs(SamplingParams(top_k=top_k), vocab_size=300)["top_k"] == sent


def test_messages_as_chat_templates_take_them() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    request = GenerationRequest(
        "chat",
        messages=(
            Message("user", ("first part", "second part"), name="ann"),
            Message("assistant", None, tool_calls=(call,)),
            Message("tool", "42", tool_call_id="c1"),
        ),
    )
    assert chat_messages(request) == [
        {"role": "user", "content": "first part\nsecond part", "name": "ann"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "content": "42", "tool_call_id": "c1"},
    ]
    assert chat_messages(GenerationRequest("chat")) == []


def test_a_completion_takes_exactly_one_prompt() -> None:
    assert completion_prompt(GenerationRequest("completions", prompts=("Once",))) == "Once"
    for prompts in [(), ("a", "b")]:
        with pytest.raises(InvalidInput) as caught:
            completion_prompt(GenerationRequest("completions", prompts=prompts))
        assert caught.value.message == (
            "This model takes one prompt per request; send one request per prompt."
        )

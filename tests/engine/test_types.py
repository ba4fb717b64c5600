"""types.py: the engine's request and output values (frozen, with the defaults every backend
reads), the optional features (each one a request can use), and the TextGenerator protocol."""

from __future__ import annotations

import dataclasses

import pytest

from aimaas.engine.features import used_features
from aimaas.engine.types import (
    ALL_FEATURES,
    ChoiceDelta,
    GenerationOutput,
    GenerationRequest,
    JsonSchema,
    SamplingParams,
    TextGenerator,
    Tool,
    ToolCallDelta,
    Usage,
)


def test_a_request_defaults_to_one_choice_with_the_backends_sampling() -> None:
    request = GenerationRequest("completions", prompts=("Hi",))
    assert (request.n, request.max_tokens, request.tools, request.logprobs) == (1, None, (), False)
    assert request.sampling == SamplingParams()
    assert all(
        getattr(request.sampling, f.name) is None
        for f in dataclasses.fields(SamplingParams)
        if f.name != "stop"
    )
    assert request.sampling.stop == ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.n = 2  # type: ignore[misc]


def test_a_choice_has_tokens_when_it_carries_text_reasoning_or_tool_calls() -> None:
    assert not ChoiceDelta(0).has_tokens
    assert not ChoiceDelta(0, finish_reason="stop").has_tokens
    assert ChoiceDelta(0, text="a").has_tokens
    assert ChoiceDelta(0, reasoning="hm").has_tokens
    assert ChoiceDelta(0, tool_calls=(ToolCallDelta(0, id="c1"),)).has_tokens


def test_usage_totals_prompt_and_completion() -> None:
    assert Usage(prompt_tokens=5, completion_tokens=7).total_tokens == 12
    assert Usage(0, 0).total_tokens == 0
    assert GenerationOutput().usage is None and GenerationOutput().choices == ()


def test_every_feature_is_one_a_request_can_use_and_no_other() -> None:
    everything = GenerationRequest(
        "chat",
        sampling=SamplingParams(
            min_p=0.1, seed=0, presence_penalty=0.5, frequency_penalty=0.5,
            logit_bias={"1": 1.0}, stop=("x",),
        ),
        n=2,
        tools=(Tool("f", {"type": "object"}),),
        tool_choice="auto",
        json_schema=JsonSchema(None),
        logprobs=True,
        top_logprobs=2,
    )  # fmt: skip
    assert {feature for _, feature in used_features(everything)} == ALL_FEATURES


def test_a_text_generator_is_recognised_by_its_members() -> None:
    class Partial:
        name = "m"

    assert not isinstance(Partial(), TextGenerator)
    assert not isinstance(object(), TextGenerator)

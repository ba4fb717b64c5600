"""A backend without a feature refuses the request naming the parameter."""

from __future__ import annotations

import pytest

from aimaas.engine.features import check_features, used_features
from aimaas.engine.types import ALL_FEATURES, GenerationRequest, SamplingParams, Tool
from aimaas.errors import InvalidInput


def test_each_parameter_names_its_feature_and_no_ops_use_none() -> None:
    request = GenerationRequest(
        "chat",
        sampling=SamplingParams(seed=0, presence_penalty=0.0, min_p=0.0, logit_bias={},
                                stop=("x",)),
        n=2,
        logprobs=True,
        top_logprobs=0,
    )  # fmt: skip
    assert list(used_features(request)) == [
        ("seed", "seed"), ("logprobs", "logprobs"), ("n", "n"), ("stop", "stop")
    ]  # fmt: skip
    check_features(request, ALL_FEATURES, "m")


def test_the_first_missing_feature_is_refused_with_its_parameter() -> None:
    tools = GenerationRequest("chat", tools=(Tool("f", {}),), tool_choice="auto")
    with pytest.raises(InvalidInput, match="cannot take 'tools': its chat template") as refused:
        check_features(tools, frozenset({"stop"}), "small")
    assert refused.value.param == "tools"
    seeded = GenerationRequest("chat", sampling=SamplingParams(seed=3))
    with pytest.raises(InvalidInput, match="Model 'small' cannot take 'seed': its runtime"):
        check_features(seeded, frozenset({"stop"}), "small")

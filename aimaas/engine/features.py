"""Which optional features a request uses, so that a backend without one refuses it naming
the parameter (never ignores it)."""

from __future__ import annotations

from collections.abc import Iterator

from aimaas.engine.types import GenerationRequest
from aimaas.errors import InvalidInput


def used_features(request: GenerationRequest) -> Iterator[tuple[str, str]]:
    """(parameter, feature) for each optional feature the request uses, in the order the
    parameters are reported. A value that changes nothing (a penalty or ``min_p`` of 0, an
    empty ``logit_bias``) uses nothing; a seed of 0 is a seed."""
    sampling = request.sampling
    if request.tools:
        yield "tools", "tools"
    if request.tool_choice is not None:
        yield "tool_choice", "tools"
    if request.json_schema is not None:
        yield "response_format", "grammar"
    if sampling.logit_bias:
        yield "logit_bias", "logit_bias"
    if sampling.seed is not None:
        yield "seed", "seed"
    if sampling.presence_penalty:
        yield "presence_penalty", "penalties"
    if sampling.frequency_penalty:
        yield "frequency_penalty", "penalties"
    if sampling.min_p:
        yield "min_p", "min_p"
    if request.logprobs:
        yield "logprobs", "logprobs"
    if request.top_logprobs:
        yield "top_logprobs", "top_logprobs"
    if request.n != 1:
        yield "n", "n"
    if sampling.stop:
        yield "stop", "stop"


def check_features(request: GenerationRequest, features: frozenset[str], model: str) -> None:
    for param, feature in used_features(request):
        if feature in features:
            continue
        if feature == "tools":
            reason = "its chat template does not render tools, so it cannot call them"
        else:
            reason = "its runtime does not support it"
        raise InvalidInput(
            f"Model '{model}' cannot take '{param}': {reason}. Remove it or use another model.",
            param=param,
        )

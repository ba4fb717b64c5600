"""The one context check, for every backend."""

from __future__ import annotations

import pytest

from aimaas.engine.context import check_output_limit, check_prompt, room_for_output
from aimaas.engine.types import GenerationRequest
from aimaas.errors import ContextExceeded, InvalidInput


def test_max_tokens_must_leave_room_for_a_prompt() -> None:
    check_output_limit(GenerationRequest("chat", max_tokens=511), 512)
    check_output_limit(GenerationRequest("chat"), 512)
    with pytest.raises(InvalidInput, match="'max_tokens' is 512, but this model takes at most 512"):
        check_output_limit(GenerationRequest("chat", max_tokens=512), 512)


def test_a_prompt_must_leave_room_for_one_token() -> None:
    check_prompt(GenerationRequest("completions"), 511, 512)
    with pytest.raises(ContextExceeded) as exceeded:
        check_prompt(GenerationRequest("completions"), 512, 512)
    assert exceeded.value.param == "prompt" and exceeded.value.prompt_tokens == 512
    assert "Shorten the prompt" in exceeded.value.message


def test_output_is_what_max_tokens_asks_within_what_the_context_leaves() -> None:
    assert room_for_output(GenerationRequest("chat"), 100, 512) == 412
    assert room_for_output(GenerationRequest("chat", max_tokens=20), 100, 512) == 20
    assert room_for_output(GenerationRequest("chat", max_tokens=500), 100, 512) == 412

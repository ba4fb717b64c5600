"""Whether a request fits a model's context: the one place that decides it, for every
backend (they report a prompt's real token count; the limit on output is checked first)."""

from __future__ import annotations

from aimaas.engine.types import GenerationRequest
from aimaas.errors import ContextExceeded, InvalidInput


def prompt_param(request: GenerationRequest) -> str:
    return "messages" if request.endpoint == "chat" else "prompt"


def check_output_limit(request: GenerationRequest, context_length: int) -> None:
    """``max_tokens`` must leave room for a prompt."""
    limit = request.max_tokens
    if limit is not None and limit >= context_length:
        raise InvalidInput(
            f"'max_tokens' is {limit}, but this model takes at most {context_length} "
            "tokens per request (prompt and output); lower it.",
            param="max_tokens",
        )


def check_prompt(request: GenerationRequest, prompt_tokens: int, context_length: int) -> None:
    """A prompt must leave room for at least one token of output."""
    if prompt_tokens >= context_length:
        raise ContextExceeded(
            prompt_tokens=prompt_tokens, context_length=context_length, param=prompt_param(request)
        )


def room_for_output(request: GenerationRequest, prompt_tokens: int, context_length: int) -> int:
    """Output tokens per choice: ``max_tokens``, at most what the context leaves."""
    room = context_length - prompt_tokens
    return room if request.max_tokens is None else min(request.max_tokens, room)

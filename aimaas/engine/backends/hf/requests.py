"""What a ``GenerationRequest`` asks of the transformers backend: sampling, the prompt."""

from __future__ import annotations

from typing import Any

from aimaas.engine.types import GenerationRequest, Message, SamplingParams
from aimaas.errors import InvalidInput

# llama.cpp's defaults, so a request means the same on every backend.
DEFAULT_TEMPERATURE = 0.8
DEFAULT_TOP_K = 40
DEFAULT_TOP_P = 0.95


def sampling_kwargs(sampling: SamplingParams, vocab_size: int) -> dict[str, Any]:
    """Per-request logits-processor arguments; temperature 0 is greedy."""
    temperature = DEFAULT_TEMPERATURE if sampling.temperature is None else sampling.temperature
    if temperature <= 0:
        return {"temperature": 1.0, "top_k": 1, "top_p": 1.0}
    top_k = DEFAULT_TOP_K if sampling.top_k is None else sampling.top_k
    return {
        "temperature": temperature,
        "top_k": top_k if 0 < top_k < vocab_size else vocab_size,  # 0 means off
        "top_p": DEFAULT_TOP_P if sampling.top_p is None else sampling.top_p,
    }


def _template_message(message: Message) -> dict[str, Any]:
    """A message as chat templates take it: content parts joined into one text."""
    content = message.content
    return {
        "role": message.role,
        "content": "\n".join(content) if isinstance(content, tuple) else content,
        **message.references(),
    }


def chat_messages(request: GenerationRequest) -> list[dict[str, Any]]:
    return [_template_message(message) for message in request.messages]


def completion_prompt(request: GenerationRequest) -> str:
    if len(request.prompts) != 1:
        raise InvalidInput("This model takes one prompt per request; send one request per prompt.")
    return request.prompts[0]

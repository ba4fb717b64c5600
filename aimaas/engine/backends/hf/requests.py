"""What a request asks of the transformers backend: sampling, stop strings, the prompt."""

from __future__ import annotations

from typing import Any

from aimaas.engine.types import Chunk

# llama.cpp's defaults, so a request means the same on every backend.
DEFAULT_TEMPERATURE = 0.8
DEFAULT_TOP_K = 40
DEFAULT_TOP_P = 0.95


# --- What a request asks for ------------------------------------------------------------------


class Refused(Exception):
    """A request this backend answers with an error chunk instead of generating."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(str(error.get("message", "")))
        self.error = error


def sampling_kwargs(body: Chunk, vocab_size: int) -> dict[str, Any]:
    """Per-request logits-processor arguments; temperature 0 is greedy."""
    temperature = body.get("temperature")
    temperature = DEFAULT_TEMPERATURE if temperature is None else float(temperature)
    if temperature <= 0:
        return {"temperature": 1.0, "top_k": 1, "top_p": 1.0}
    top_k = body.get("top_k")
    top_k = DEFAULT_TOP_K if top_k is None else int(top_k)
    top_p = body.get("top_p")
    return {
        "temperature": temperature,
        "top_k": top_k if 0 < top_k < vocab_size else vocab_size,  # 0 means off
        "top_p": DEFAULT_TOP_P if top_p is None else float(top_p),
    }


def stop_strings(body: Chunk) -> list[str]:
    stop = body.get("stop")
    if stop is None:
        return []
    return [stop] if isinstance(stop, str) else [s for s in stop if s]


def _message_text(content: Any) -> Any:
    """OpenAI content parts -> one string (templates expect text)."""
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return content


def chat_messages(body: Chunk) -> list[dict[str, Any]]:
    return [
        {**message, "content": _message_text(message.get("content"))}
        for message in body.get("messages", [])
    ]


def completion_prompt(body: Chunk) -> str:
    prompt = body.get("prompt", "")
    if isinstance(prompt, list):
        if len(prompt) != 1:
            raise Refused(
                {
                    "code": 400,
                    "type": "invalid_request_error",
                    "message": "This model takes one prompt per request; send one request "
                    "per prompt.",
                }
            )
        prompt = prompt[0]
    return str(prompt)


def context_error(prompt_tokens: int, context_length: int) -> dict[str, Any]:
    return {
        "code": 400,
        "type": "exceed_context_size_error",
        "message": "the request exceeds the available context size",
        "n_prompt_tokens": prompt_tokens,
        "n_ctx": context_length,
    }

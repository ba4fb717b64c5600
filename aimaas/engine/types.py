"""What the generation service needs from a backend that runs a language model."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal, Protocol, runtime_checkable

from aimaas.engine.admission import Admission

Endpoint = Literal["chat", "completions"]
Chunk = dict[str, Any]

# Optional request features; a backend lists the ones it honours, and a request that uses
# one it lacks is refused with 400 naming the parameter, never silently ignored.
ALL_FEATURES: frozenset[str] = frozenset(
    {"tools", "grammar", "logit_bias", "seed", "penalties", "min_p", "logprobs",
     "top_logprobs", "n", "stop"}
)  # fmt: skip


@runtime_checkable
class TextGenerator(Protocol):
    name: str
    admission: Admission

    @property
    def context_length(self) -> int:
        """Tokens per sequence, prompt plus output."""

    @property
    def features(self) -> frozenset[str]: ...

    def stream(self, endpoint: Endpoint, body: Chunk) -> AsyncIterator[Chunk]:
        """Run one request (``body`` in llama.cpp's OpenAI-compatible form) and yield
        OpenAI-shaped stream chunks, ending with one that carries ``usage``; a chunk with an
        ``error`` object reports a refusal. Closing the iterator aborts the sequence."""

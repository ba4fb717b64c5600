"""The LLM engine boundary: a typed ``GenerationRequest`` in, typed ``GenerationOutput``s out.

Every backend (llama-server, xllamacpp, transformers) takes the same request and yields the
same outputs, ending with one that carries ``usage``; refusals are domain errors
(``aimaas.errors``), never error objects in the stream. Wire formats live elsewhere: OpenAI's
shape above the engine (``aimaas.runtime.openai_shaping``), llama.cpp's JSON inside its
backends (``aimaas.engine.backends.llama_json``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from aimaas.engine.admission import Admission

Endpoint = Literal["chat", "completions"]
FinishReason = Literal["stop", "length", "tool_calls"]
ToolChoice = Literal["none", "auto", "required"]

# Optional request features; a backend lists the ones it honours, and a request that uses
# one it lacks is refused with 400 naming the parameter, never silently ignored.
ALL_FEATURES: frozenset[str] = frozenset(
    {"tools", "grammar", "logit_bias", "seed", "penalties", "min_p", "logprobs",
     "top_logprobs", "n", "stop"}
)  # fmt: skip


# --- The request ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SamplingParams:
    """How tokens are drawn; ``None`` is the backend's default (llama.cpp's, everywhere)."""

    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class Message:
    role: str
    content: str | tuple[str, ...] | None  # text, or the text of each content part
    name: str | None = None
    tool_calls: tuple[dict[str, Any], ...] = ()  # a previous answer's calls, as the client sent
    tool_call_id: str | None = None

    def references(self) -> dict[str, Any]:
        """The fields every backend passes on as they are, those that are set: the speaker's
        name, a previous answer's tool calls, the id of the call a tool message answers."""
        fields = {"name": self.name, "tool_calls": list(self.tool_calls) or None,
                  "tool_call_id": self.tool_call_id}  # fmt: skip
        return {key: value for key, value in fields.items() if value is not None}


@dataclass(frozen=True)
class Tool:
    name: str
    parameters: dict[str, Any]  # JSON schema of the arguments
    description: str | None = None
    strict: bool | None = None


@dataclass(frozen=True)
class JsonSchema:
    """A JSON schema the answer must follow (``None``: any JSON object)."""

    schema: dict[str, Any] | None
    name: str = "response"
    description: str | None = None
    strict: bool | None = None


@dataclass(frozen=True)
class GenerationRequest:
    """One generation: chat ``messages`` or a completion ``prompt`` (one text per prompt)."""

    endpoint: Endpoint
    messages: tuple[Message, ...] = ()
    prompts: tuple[str, ...] = ()
    sampling: SamplingParams = field(default_factory=SamplingParams)
    max_tokens: int | None = None  # output tokens per choice; None: what the context leaves
    n: int = 1  # choices per prompt
    tools: tuple[Tool, ...] = ()
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    json_schema: JsonSchema | None = None  # constrains the answer (OpenAI's response_format)
    logprobs: bool = False
    top_logprobs: int | None = None


# --- The outputs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolCallDelta:
    """A piece of one tool call: its id and name come first, its arguments in pieces."""

    index: int
    id: str | None = None
    name: str = ""
    arguments: str = ""


@dataclass(frozen=True)
class TopLogprob:
    token: str
    logprob: float
    bytes: tuple[int, ...] | None = None
    id: int | None = None  # the token's id, where the backend says (for logit_bias)


@dataclass(frozen=True)
class TokenLogprob:
    token: str
    logprob: float
    bytes: tuple[int, ...] | None = None
    top: tuple[TopLogprob, ...] = ()
    id: int | None = None


@dataclass(frozen=True)
class ChoiceDelta:
    """What one step adds to one choice (``index``: prompt-major, then ``n``)."""

    index: int
    text: str = ""
    reasoning: str = ""
    tool_calls: tuple[ToolCallDelta, ...] = ()
    logprobs: tuple[TokenLogprob, ...] = ()
    finish_reason: FinishReason | None = None

    @property
    def has_tokens(self) -> bool:
        """Whether it carries generated output (for time to first token)."""
        return bool(self.text or self.reasoning or self.tool_calls)


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class GenerationOutput:
    """One step of a generation. The last output carries ``usage``; ``busy_seconds`` (the
    time the engine spent on this request, prompt and tokens) comes with the end when the
    backend knows it."""

    choices: tuple[ChoiceDelta, ...] = ()
    usage: Usage | None = None
    busy_seconds: float | None = None


# --- What a backend is ------------------------------------------------------------------------


@runtime_checkable
class TextGenerator(Protocol):
    name: str
    admission: Admission

    @property
    def context_length(self) -> int:
        """Tokens per sequence, prompt plus output."""

    @property
    def features(self) -> frozenset[str]: ...

    def stream(self, request: GenerationRequest) -> AsyncIterator[GenerationOutput]:
        """Run one request and yield its outputs, ending with one that carries ``usage``.
        Refusals raise domain errors (a prompt over the context: ``ContextExceeded``).
        Closing the iterator aborts the sequence and frees its slot."""

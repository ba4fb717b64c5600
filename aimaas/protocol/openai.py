"""OpenAI chat completions, completions and embeddings requests, checked strictly.

Every parameter aimaas accepts is declared here with its bounds; anything else is refused
with 400 naming it, so no parameter is ever silently ignored.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from aimaas.engine import types as engine
from aimaas.protocol.common import Strict

# The request's sampling fields, named as the engine names them (``stop`` is normalized).
_SAMPLED = {field.name for field in fields(engine.SamplingParams)} - {"stop"}

MAX_N = 16
MAX_STOP = 16
MAX_TOKENS_CAP = 1 << 20  # far beyond any context; the model's real limit is checked later
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Penalty = Annotated[float, Field(ge=-2.0, le=2.0)]


class StreamOptions(Strict):
    include_usage: bool = False


class JsonSchemaFormat(Strict):
    name: str = Field("response", max_length=64)
    description: str | None = None
    schema_: dict[str, Any] = Field(default_factory=dict, alias="schema")
    strict: bool | None = None


class ResponseFormat(Strict):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_present(self) -> ResponseFormat:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("'json_schema' is required when type is 'json_schema'")
        return self


class FunctionDef(Strict):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    description: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    strict: bool | None = None


class ToolDefinition(Strict):
    type: Literal["function"]
    function: FunctionDef


class FunctionName(Strict):
    name: str = Field(min_length=1, max_length=64)


class NamedToolChoice(Strict):
    """``tool_choice`` naming the one function the answer must call."""

    type: Literal["function"]
    function: FunctionName


class SamplingFields(Strict):
    """What chat completions and completions share."""

    # No coercion: "max_tokens": "4" or true, "temperature": "0.5" or "stream": "yes" are
    # refused naming the field, as OpenAI does, rather than read as numbers or booleans.
    model_config = ConfigDict(extra="forbid", strict=True)

    model: str = Field(min_length=1, max_length=256)
    max_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS_CAP)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    top_k: int | None = Field(None, ge=0, le=1000)
    min_p: Probability | None = None
    seed: int | None = Field(None, ge=-(2**63), le=2**63 - 1)
    stop: str | list[str] | None = None
    presence_penalty: Penalty | None = None
    frequency_penalty: Penalty | None = None
    logit_bias: dict[str, Annotated[float, Field(ge=-100.0, le=100.0)]] | None = None
    n: int = Field(1, ge=1, le=MAX_N)
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = Field(None, max_length=256)

    @field_validator("stop")
    @classmethod
    def _stop_bounds(cls, value: str | list[str] | None) -> str | list[str] | None:
        stops = [value] if isinstance(value, str) else (value or [])
        if len(stops) > MAX_STOP:
            raise ValueError(f"at most {MAX_STOP} stop sequences")
        if any(not s or len(s) > 256 for s in stops):
            raise ValueError("each stop sequence is 1 to 256 characters")
        return value

    @field_validator("logit_bias")
    @classmethod
    def _token_ids(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value is not None:
            if len(value) > 1024:
                raise ValueError("at most 1024 entries")
            if not all(key.isdigit() and int(key) < 10_000_000 for key in value):
                raise ValueError("keys must be token ids (non-negative integers as strings)")
        return value

    @model_validator(mode="after")
    def _stream_options_need_stream(self) -> SamplingFields:
        if self.stream_options is not None and not self.stream:
            raise ValueError("'stream_options' is only allowed when 'stream' is true")
        return self

    @property
    def include_usage(self) -> bool:
        """Whether the answer carries usage: always when whole, on request when streamed."""
        return not self.stream or bool(self.stream_options and self.stream_options.include_usage)

    def sampling(self) -> engine.SamplingParams:
        stops = [self.stop] if isinstance(self.stop, str) else (self.stop or [])
        return engine.SamplingParams(**self.model_dump(include=_SAMPLED), stop=tuple(stops))


class TextPart(Strict):
    type: Literal["text"]
    text: str


class ChatMessage(Strict):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None
    name: str | None = Field(None, max_length=64)
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None

    def message(self) -> engine.Message:
        content = self.content
        return engine.Message(
            role=self.role,
            content=tuple(p.text for p in content) if isinstance(content, list) else content,
            name=self.name,
            tool_calls=tuple(self.tool_calls or ()),
            tool_call_id=self.tool_call_id,
        )


class ChatCompletionRequest(SamplingFields):
    messages: list[ChatMessage] = Field(min_length=1, max_length=4096)
    max_completion_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS_CAP)
    logprobs: bool = False
    top_logprobs: int | None = Field(None, ge=0, le=20)
    response_format: ResponseFormat | None = None
    tools: list[ToolDefinition] | None = Field(None, max_length=128)
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ChatCompletionRequest:
        if self.top_logprobs is not None and not self.logprobs:
            raise ValueError("'top_logprobs' needs 'logprobs': true")
        if self.max_tokens is not None and self.max_completion_tokens is not None:
            raise ValueError("give 'max_tokens' or 'max_completion_tokens', not both")
        if self.tool_choice is not None and not self.tools:
            raise ValueError("'tool_choice' needs 'tools'")
        if isinstance(self.tool_choice, NamedToolChoice):
            name = self.tool_choice.function.name
            if not any(tool.function.name == name for tool in self.tools or []):
                raise ValueError(f"'tool_choice' names '{name}', which is not in 'tools'")
        return self

    @property
    def tool_choice_name(self) -> str | None:
        """The function a named ``tool_choice`` requires, if it names one."""
        if isinstance(self.tool_choice, NamedToolChoice):
            return self.tool_choice.function.name
        return None

    @property
    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def generation_request(self) -> engine.GenerationRequest:
        tools = tuple(
            engine.Tool(t.function.name, t.function.parameters, t.function.description,
                        t.function.strict)
            for t in self.tools or ()
        )  # fmt: skip
        choice = self.tool_choice
        if isinstance(choice, NamedToolChoice):
            # llama.cpp takes no named choice: "required" over that one tool is the same thing.
            tools = tuple(t for t in tools if t.name == choice.function.name)
            choice = "required"
        return engine.GenerationRequest(
            endpoint="chat",
            messages=tuple(m.message() for m in self.messages),
            sampling=self.sampling(),
            max_tokens=self.token_limit,
            n=self.n,
            tools=tools,
            tool_choice=choice,
            parallel_tool_calls=self.parallel_tool_calls,
            json_schema=_json_schema(self.response_format),
            logprobs=self.logprobs,
            top_logprobs=self.top_logprobs,
        )


def _json_schema(response_format: ResponseFormat | None) -> engine.JsonSchema | None:
    if response_format is None or response_format.type == "text":
        return None
    described = response_format.json_schema
    if response_format.type == "json_object" or described is None:
        return engine.JsonSchema(schema=None)
    return engine.JsonSchema(
        schema=described.schema_,
        name=described.name,
        description=described.description,
        strict=described.strict,
    )


class CompletionRequest(SamplingFields):
    prompt: str | list[str] = Field(min_length=1)
    logprobs: int | None = Field(None, ge=0, le=20)
    echo: Literal[False] = False
    suffix: None = None
    best_of: Literal[1] | None = None

    @field_validator("prompt")
    @classmethod
    def _prompt_bounds(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and len(value) > MAX_N:
            raise ValueError(f"at most {MAX_N} prompts in one request")
        return value

    @property
    def token_limit(self) -> int | None:
        return self.max_tokens

    def generation_request(self) -> engine.GenerationRequest:
        prompts = [self.prompt] if isinstance(self.prompt, str) else self.prompt
        return engine.GenerationRequest(
            endpoint="completions",
            prompts=tuple(prompts),
            sampling=self.sampling(),
            max_tokens=self.max_tokens,
            n=self.n,
            logprobs=bool(self.logprobs),  # 0: no log probabilities, as llama.cpp reads it
            top_logprobs=self.logprobs or None,
        )


class EmbeddingRequest(Strict):
    model: str = Field(min_length=1, max_length=256)
    input: str | list[str] = Field(min_length=1)
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: None = None
    user: str | None = Field(None, max_length=256)

    @field_validator("input")
    @classmethod
    def _input_bounds(cls, value: str | list[str]) -> str | list[str]:
        texts = [value] if isinstance(value, str) else value
        if len(texts) > 2048:
            raise ValueError("at most 2048 inputs in one request")
        if any(not text for text in texts):
            raise ValueError("inputs must be non-empty strings")
        return value

    @property
    def texts(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else list(self.input)


class TokenUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int = 0
    total_tokens: int


class EmbeddingData(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingData]
    model: str
    usage: TokenUsage

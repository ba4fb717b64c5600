"""llama.cpp's OpenAI-compatible JSON, both ways: a ``GenerationRequest`` as the body its
server loop takes, and each streamed chunk as a ``GenerationOutput`` (an error object as a
domain error). The only place that knows this JSON; both llama.cpp backends use it."""

from __future__ import annotations

from typing import Any

from aimaas.engine.context import prompt_param
from aimaas.engine.types import (
    ChoiceDelta,
    GenerationOutput,
    GenerationRequest,
    Message,
    TokenLogprob,
    Tool,
    ToolCallDelta,
    TopLogprob,
    Usage,
)
from aimaas.errors import AimaasError, ContextExceeded, InvalidInput, Unavailable

Json = dict[str, Any]
_FINISH = {"stop", "length", "tool_calls"}


# --- Request ----------------------------------------------------------------------------------


def request_body(request: GenerationRequest) -> Json:
    """The request as llama.cpp's server loop takes it (always streamed, usage included)."""
    sampling = request.sampling
    body: Json = {
        "stream": True,
        "stream_options": {"include_usage": True},  # usage is always metered
        "n": request.n,
    }
    optional: Json = {
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "top_k": sampling.top_k,
        "min_p": sampling.min_p,
        "presence_penalty": sampling.presence_penalty,
        "frequency_penalty": sampling.frequency_penalty,
        "logit_bias": sampling.logit_bias,
        "max_tokens": request.max_tokens,
        "parallel_tool_calls": request.parallel_tool_calls,
        "tool_choice": request.tool_choice,
    }
    body |= {key: value for key, value in optional.items() if value is not None}
    if sampling.seed is not None:
        body["seed"] = sampling.seed % (2**32)  # llama.cpp seeds are 32-bit
    if sampling.stop:
        body["stop"] = list(sampling.stop)
    if request.endpoint == "chat":
        body["messages"] = [_message(m) for m in request.messages]
        if request.logprobs:
            body["logprobs"] = True
            if request.top_logprobs is not None:
                body["top_logprobs"] = request.top_logprobs
    else:
        body["prompt"] = request.prompts[0] if len(request.prompts) == 1 else list(request.prompts)
        if request.logprobs:
            body["logprobs"] = request.top_logprobs or 0
    if request.tools:
        body["tools"] = [_tool(tool) for tool in request.tools]
    if request.json_schema is not None:
        body["response_format"] = _response_format(request)
    return body


def _message(message: Message) -> Json:
    out: Json = {"role": message.role}
    if isinstance(message.content, tuple):
        out["content"] = [{"type": "text", "text": part} for part in message.content]
    elif message.content is not None:
        out["content"] = message.content
    return {**out, **message.references()}


def _set(**fields: Any) -> Json:
    """The fields that are set (OpenAI's JSON leaves an unset optional field out)."""
    return {name: value for name, value in fields.items() if value is not None}


def _tool(tool: Tool) -> Json:
    function = _set(
        name=tool.name, parameters=tool.parameters, description=tool.description,
        strict=tool.strict,
    )  # fmt: skip
    return {"type": "function", "function": function}


def _response_format(request: GenerationRequest) -> Json:
    schema = request.json_schema
    assert schema is not None
    if schema.schema is None:
        return {"type": "json_object"}
    described = _set(
        name=schema.name, schema=schema.schema, description=schema.description,
        strict=schema.strict,
    )  # fmt: skip
    return {"type": "json_schema", "json_schema": described}


# --- Stream chunks ----------------------------------------------------------------------------


def output_of(chunk: Json, request: GenerationRequest) -> GenerationOutput:
    """One streamed chunk; an ``error`` object raises the domain error it means."""
    error = chunk.get("error")
    if isinstance(error, dict):
        raise error_of(error, request)
    usage = chunk.get("usage")
    timings = chunk.get("timings")
    busy = None
    if isinstance(timings, dict) and "prompt_ms" in timings:
        busy = (float(timings.get("prompt_ms", 0)) + float(timings.get("predicted_ms", 0))) / 1e3
    return GenerationOutput(
        choices=tuple(_choice(c) for c in chunk.get("choices") or ()),
        usage=Usage(
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
        )
        if isinstance(usage, dict)
        else None,
        busy_seconds=busy,
    )


def _choice(choice: Json) -> ChoiceDelta:
    delta = choice.get("delta") or {}
    finish = choice.get("finish_reason")
    return ChoiceDelta(
        index=int(choice.get("index", 0)),
        text=str(delta.get("content") or choice.get("text") or ""),
        reasoning=str(delta.get("reasoning_content") or ""),
        tool_calls=tuple(_tool_call(call) for call in delta.get("tool_calls") or ()),
        logprobs=tuple(_logprob(e) for e in (choice.get("logprobs") or {}).get("content") or ()),
        finish_reason=finish if finish in _FINISH else None,
    )


def _tool_call(call: Json) -> ToolCallDelta:
    function = call.get("function") or {}
    return ToolCallDelta(
        index=int(call.get("index", 0)),
        id=call.get("id") or None,
        name=str(function.get("name") or ""),
        arguments=str(function.get("arguments") or ""),
    )


def _bytes(entry: Json) -> tuple[int, ...] | None:
    raw = entry.get("bytes")
    return tuple(int(b) for b in raw) if isinstance(raw, list) else None


def _id(entry: Json) -> int | None:
    value = entry.get("id")
    return value if isinstance(value, int) else None


def _logprob(entry: Json) -> TokenLogprob:
    return TokenLogprob(
        token=str(entry.get("token", "")),
        logprob=float(entry.get("logprob", 0.0)),
        bytes=_bytes(entry),
        top=tuple(
            TopLogprob(str(t.get("token", "")), float(t.get("logprob", 0.0)), _bytes(t), _id(t))
            for t in entry.get("top_logprobs") or ()
        ),
        id=_id(entry),
    )


def error_of(error: Json, request: GenerationRequest) -> AimaasError:
    """llama.cpp's error object -> the domain error it means."""
    if error.get("type") == "exceed_context_size_error":
        prompt_tokens = error.get("n_prompt_tokens")
        return ContextExceeded(
            prompt_tokens=int(prompt_tokens) if isinstance(prompt_tokens, int) else None,
            context_length=int(error.get("n_ctx", 0)),
            param=prompt_param(request),
        )
    message = str(error.get("message", "The model refused the request."))
    if int(error.get("code", 500)) < 500:
        return InvalidInput(message)
    return Unavailable(f"The model failed: {message}")

"""What an OpenAI generation or embedding request means: which model version, whether it
may do this, what llama.cpp is asked, what is measured and recorded."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import AsyncGenerator
from typing import Any

import numpy as np

from aimaas.engine.chunks import Chunk, clean_chunk, error_of, has_tokens, usage_of
from aimaas.engine.tool_calls import BareCall, ForcedCall, force_call
from aimaas.engine.types import Endpoint, TextGenerator
from aimaas.errors import AimaasError, EngineDied, InvalidInput, Unavailable
from aimaas.observability.metrics import LLMMetrics
from aimaas.protocol.openai import (
    ChatCompletionRequest,
    CompletionRequest,
    EmbeddingData,
    EmbeddingRequest,
    EmbeddingResponse,
    Usage,
)
from aimaas.registry.db import Database
from aimaas.registry.repository import UsageRow
from aimaas.registry.tables import utcnow
from aimaas.registry.usage_writer import UsageWriter
from aimaas.runtime.catalog import SpecCache
from aimaas.runtime.embeddings import Embedder
from aimaas.runtime.manager import ModelManager
from aimaas.runtime.specs import ModelSpec
from aimaas.security.limits import Reservation
from aimaas.security.principal import Principal
from aimaas.security.quotas import Quotas, embedding_maximum

log = logging.getLogger("aimaas.llm")

GenerationRequest = ChatCompletionRequest | CompletionRequest
_NOT_SENT = {"model", "stream", "stream_options", "user", "max_completion_tokens", "max_tokens"}


def llama_body(request: GenerationRequest) -> dict[str, Any]:
    """The request as llama.cpp's server loop takes it."""
    body = request.model_dump(exclude_none=True, exclude=_NOT_SENT, by_alias=True)
    body["stream_options"] = {"include_usage": True}  # usage is always metered
    if request.token_limit is not None:
        body["max_tokens"] = request.token_limit
    if request.seed is not None:
        body["seed"] = request.seed % (2**32)  # llama.cpp seeds are 32-bit
    if isinstance(request, ChatCompletionRequest) and request.tool_choice_name is not None:
        # llama.cpp takes no named choice: "required" over that one tool is the same thing.
        name = request.tool_choice_name
        body["tools"] = [tool for tool in body["tools"] if tool["function"]["name"] == name]
        body["tool_choice"] = "required"
    return body


def _llama_error(error: dict[str, Any], endpoint: Endpoint) -> AimaasError:
    param = "messages" if endpoint == "chat" else "prompt"
    if error.get("type") == "exceed_context_size_error":
        return InvalidInput(
            f"The prompt has {error.get('n_prompt_tokens')} tokens; this model takes at most "
            f"{error.get('n_ctx')} tokens per request (prompt and output). Shorten the prompt.",
            param=param,
        )
    message = str(error.get("message", "The model refused the request."))
    if int(error.get("code", 500)) < 500:
        return InvalidInput(message)
    return Unavailable(f"The model failed: {message}")


# Request fields that need an optional backend feature, and the value that means "unused".
_FEATURE_OF: dict[str, tuple[str, object]] = {
    "tools": ("tools", None),
    "tool_choice": ("tools", None),
    "response_format": ("grammar", None),
    "logit_bias": ("logit_bias", None),
    "seed": ("seed", None),
    "presence_penalty": ("penalties", None),
    "frequency_penalty": ("penalties", None),
    "min_p": ("min_p", None),
    "logprobs": ("logprobs", None),
    "top_logprobs": ("top_logprobs", None),
    "n": ("n", 1),
    "stop": ("stop", None),
}


def _tool_calls(
    request: GenerationRequest, model: TextGenerator, body: dict[str, Any]
) -> ForcedCall | BareCall | None:
    """How tool calls are read from this request's answer (engine/tool_calls.py): a forced
    choice is sent with its call's JSON schema; ``auto`` also takes a bare JSON call."""
    if not isinstance(request, ChatCompletionRequest) or not request.tools:
        return None
    if request.tool_choice == "none" or "grammar" not in model.features:
        return None
    if request.tool_choice == "required" or request.tool_choice_name is not None:
        if request.response_format is not None:
            raise InvalidInput(
                "'response_format' cannot be combined with a 'tool_choice' that requires a "
                "call (the call's arguments follow the tool's parameters); remove one.",
                param="response_format",
            )
        force_call(body)
        return ForcedCall()
    return BareCall(frozenset(tool.function.name for tool in request.tools))


def _check_request(request: GenerationRequest, model: TextGenerator, name: str) -> None:
    """Refuse what this model cannot do: a feature it lacks, more tokens than its context."""
    _check_features(request, model, name)
    limit = request.token_limit
    context = model.context_length
    if limit is not None and limit >= context:
        raise InvalidInput(
            f"'max_tokens' is {limit}, but this model takes at most {context} "
            "tokens per request (prompt and output); lower it.",
            param="max_tokens",
        )


def _check_features(request: GenerationRequest, model: TextGenerator, name: str) -> None:
    for field, (feature, unused) in _FEATURE_OF.items():
        value = getattr(request, field, unused)
        if value in (unused, False) or feature in model.features:
            continue
        if feature == "tools":
            reason = "its chat template does not render tools, so it cannot call them"
        else:
            reason = "its runtime does not support it"
        raise InvalidInput(
            f"Model '{name}' cannot take '{field}': {reason}. Remove it or use another model.",
            param=field,
        )


class LLMService:
    def __init__(
        self,
        db: Database,
        specs: SpecCache,
        manager: ModelManager,
        metrics: LLMMetrics,
        *,
        quotas: Quotas | None = None,
    ) -> None:
        self.db = db
        self.specs = specs
        self.manager = manager
        self.metrics = metrics
        self.quotas = quotas
        self._usage = UsageWriter(db)

    async def _spec(self, caller: Principal, ref: str) -> ModelSpec:
        return await self.specs.get(caller.tenant_id, ref)

    async def generate(
        self, caller: Principal, endpoint: Endpoint, request: GenerationRequest
    ) -> AsyncGenerator[Chunk, None]:
        """Start a generation; errors up to the first chunk are raised here, so they can
        still be answered with a proper status code."""
        spec = await self._spec(caller, request.model)
        if endpoint not in spec.capabilities:
            if endpoint == "chat" and "completions" in spec.capabilities:
                raise InvalidInput(
                    f"Model '{spec.name}' is a base model without a chat template: send a "
                    "prompt to /v1/completions instead.",
                    param="model",
                )
            path = "/v1/chat/completions" if endpoint == "chat" else "/v1/completions"
            raise InvalidInput(f"Model '{spec.name}' does not serve {path}.", param="model")
        reservation = await self._admit(caller, spec, request)
        # No await until _run is inside its try: its end settles the reservation with the
        # real usage, however it ends (finished, failed, cancelled, client gone).
        stream = self._run(caller, spec, endpoint, request, reservation)
        try:
            first = await anext(stream)
        except StopAsyncIteration:
            raise Unavailable(f"Model '{spec.name}' ended without an answer; retry.") from None
        return self._prepend(first, stream)

    async def _admit(
        self, caller: Principal, spec: ModelSpec, request: GenerationRequest
    ) -> Reservation | None:
        """Hold the request's maximum under the caller's limits (429 if it does not fit)."""
        if self.quotas is None:
            return None
        context = spec.options.context_length or self.manager.settings.context_length
        return await self.quotas.admit_generation(caller, request, context)

    @staticmethod
    async def _prepend(
        first: Chunk, rest: AsyncGenerator[Chunk, None]
    ) -> AsyncGenerator[Chunk, None]:
        try:
            yield first
            async for chunk in rest:
                yield chunk
        finally:
            await rest.aclose()

    async def _run(
        self,
        caller: Principal,
        spec: ModelSpec,
        endpoint: Endpoint,
        request: GenerationRequest,
        reservation: Reservation | None = None,
    ) -> AsyncGenerator[Chunk, None]:
        started = time.perf_counter()
        first_token: float | None = None
        last_token = started
        token_chunks = 0
        usage: dict[str, int] | None = None
        finish = "aborted"
        queue_seconds: float | None = None
        include_usage = not request.stream or bool(
            request.stream_options and request.stream_options.include_usage
        )
        ttft = self.metrics.ttft.labels(spec.name)  # looked up once, not per token
        itl = self.metrics.itl.labels(spec.name)
        try:
            async for raw in self._engine_chunks(spec, endpoint, request):
                error = error_of(raw)
                if error is not None:
                    finish = "error"
                    raise _llama_error(error, endpoint)
                now = time.perf_counter()
                if has_tokens(raw):
                    token_chunks += 1
                    if first_token is None:
                        first_token = now
                        ttft.observe(now - started)
                    else:
                        itl.observe(now - last_token)
                    last_token = now
                for choice in raw.get("choices", []):
                    finish = choice.get("finish_reason") or finish
                timings = raw.get("timings")
                if isinstance(timings, dict) and "prompt_ms" in timings:
                    busy = (timings.get("prompt_ms", 0) + timings.get("predicted_ms", 0)) / 1e3
                    queue_seconds = max(0.0, now - started - busy)
                chunk_usage = usage_of(raw)
                if chunk_usage is not None:
                    usage = chunk_usage
                    if not raw.get("choices") and not include_usage:
                        continue
                yield clean_chunk(raw, model=spec.name, legacy_logprobs=endpoint == "completions")
        finally:
            if reservation is not None:
                reservation.settle(tokens=_used(usage, token_chunks))
            self._observe_end(
                caller, spec, endpoint, started, finish, usage, token_chunks, queue_seconds
            )

    async def _engine_chunks(
        self, spec: ModelSpec, endpoint: Endpoint, request: GenerationRequest
    ) -> AsyncGenerator[Chunk, None]:
        """The engine's chunks for one request. An engine child that dies before its first
        chunk is answered again: the manager reloads the model on the fallback backend."""
        for attempt in (1, 2):
            answered = False
            try:
                async with self.manager.use(spec) as model:
                    assert isinstance(model, TextGenerator)
                    _check_request(request, model, spec.name)
                    body = llama_body(request)
                    chunks = model.stream(endpoint, body)
                    calls = _tool_calls(request, model, body)
                    if calls is not None:
                        chunks = calls.transform(chunks)
                    async for raw in chunks:
                        answered = True
                        yield raw
                return
            except EngineDied as died:
                if answered or attempt == 2:
                    raise
                log.warning("%s; answering the request again on the fallback", died.message)

    def _observe_end(
        self,
        caller: Principal,
        spec: ModelSpec,
        endpoint: Endpoint,
        started: float,
        finish: str,
        usage: dict[str, int] | None,
        token_chunks: int,
        queue_seconds: float | None,
    ) -> None:
        label = spec.name
        prompt = usage["prompt_tokens"] if usage else 0
        completion = usage["completion_tokens"] if usage else token_chunks
        self.metrics.e2e.labels(label).observe(time.perf_counter() - started)
        self.metrics.requests.labels(label, endpoint, finish).inc()
        self.metrics.prompt_tokens.labels(label).inc(prompt)
        self.metrics.generated_tokens.labels(label).inc(completion)
        if queue_seconds is not None:
            self.metrics.queue_time.labels(label).observe(queue_seconds)
        if prompt or completion:
            self._record_usage(caller, spec.name, f"/v1/{endpoint}", prompt, completion)

    def _record_usage(
        self, caller: Principal, model: str, endpoint: str, prompt: int, completion: int
    ) -> None:
        self._usage.record(
            UsageRow(
                tenant_id=caller.tenant_id,
                key_id=caller.key_id,
                model=model,
                endpoint=endpoint,
                prompt_tokens=prompt,
                completion_tokens=completion,
                created_at=utcnow(),  # when it happened, not when it is written
            )
        )

    async def embed(self, caller: Principal, request: EmbeddingRequest) -> EmbeddingResponse:
        spec = await self._spec(caller, request.model)
        if "embeddings" not in spec.capabilities:
            raise InvalidInput(
                f"Model '{spec.name}' does not make embeddings; `GET /v1/models` lists models.",
                param="model",
            )
        reservation = None
        if self.quotas is not None:
            reservation = await self.quotas.admit(
                caller, param="input", requests=1, tokens=embedding_maximum(request)
            )
        tokens = 0
        try:
            async with self.manager.use(spec) as model:
                assert isinstance(model, Embedder)
                vectors, tokens = await model.embed(request.texts)
        finally:
            if reservation is not None:
                reservation.settle(tokens=tokens)
        self._record_usage(caller, spec.name, "/v1/embeddings", tokens, 0)
        return EmbeddingResponse(
            data=[
                EmbeddingData(index=i, embedding=_encode(vector, request.encoding_format))
                for i, vector in enumerate(vectors)
            ],
            model=spec.name,
            usage=Usage(prompt_tokens=tokens, total_tokens=tokens),
        )

    def close(self) -> None:
        self._usage.close()  # writes what is still queued


def _used(usage: dict[str, int] | None, token_chunks: int) -> int:
    """Tokens a generation used, as _observe_end records them."""
    if usage:
        return usage["prompt_tokens"] + usage["completion_tokens"]
    return token_chunks


def _encode(vector: np.ndarray, encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
    return [float(x) for x in vector]

"""What an OpenAI generation or embedding request means: which model version, whether it
may do this, what the engine is asked, what is measured and recorded."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass

import numpy as np

from aimaas.engine.context import check_output_limit
from aimaas.engine.features import check_features
from aimaas.engine.tool_calls import BareCall, ForcedCall, force_call
from aimaas.engine.types import Endpoint, GenerationOutput, GenerationRequest, TextGenerator
from aimaas.errors import AimaasError, EngineDied, InvalidInput, Unavailable
from aimaas.observability.metrics import LLMMetrics
from aimaas.protocol.openai import (
    ChatCompletionRequest,
    CompletionRequest,
    EmbeddingData,
    EmbeddingRequest,
    EmbeddingResponse,
    TokenUsage,
)
from aimaas.registry.db import Database
from aimaas.registry.repository import RequestUsage
from aimaas.registry.tables import utcnow
from aimaas.registry.usage_writer import UsageWriter
from aimaas.runtime.catalog import SpecCache
from aimaas.runtime.embeddings import Embedder
from aimaas.runtime.generation_meter import GenerationMeter
from aimaas.runtime.manager import ModelManager
from aimaas.runtime.specs import ModelSpec
from aimaas.security.limits import Reservation
from aimaas.security.principal import Principal
from aimaas.security.quotas import Quotas, embedding_maximum

log = logging.getLogger("aimaas.llm")

OpenAIGeneration = ChatCompletionRequest | CompletionRequest


@dataclass(frozen=True)
class Generation:
    """A generation that has started: its first output is ready in ``outputs``."""

    endpoint: Endpoint
    model: str  # the name it is served under
    outputs: AsyncGenerator[GenerationOutput, None]


def _tool_calls(
    request: GenerationRequest, model: TextGenerator
) -> tuple[GenerationRequest, ForcedCall | BareCall | None]:
    """How tool calls are read from this request's answer (engine/tool_calls.py): a forced
    choice is sent with its call's JSON schema; ``auto`` also takes a bare JSON call."""
    if not request.tools or request.tool_choice == "none" or "grammar" not in model.features:
        return request, None
    if request.tool_choice == "required":
        if request.json_schema is not None:
            raise InvalidInput(
                "'response_format' cannot be combined with a 'tool_choice' that requires a "
                "call (the call's arguments follow the tool's parameters); remove one.",
                param="response_format",
            )
        return force_call(request), ForcedCall()
    return request, BareCall(frozenset(tool.name for tool in request.tools))


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

    async def generate(self, caller: Principal, request: OpenAIGeneration) -> Generation:
        """Start a generation; errors up to the first output are raised here, so they can
        still be answered with a proper status code."""
        engine_request = request.generation_request()
        endpoint = engine_request.endpoint
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
        stream = self._run(caller, spec, engine_request, reservation)
        try:
            first = await anext(stream)
        except StopAsyncIteration:
            raise Unavailable(f"Model '{spec.name}' ended without an answer; retry.") from None
        return Generation(endpoint, spec.name, self._prepend(first, stream))

    async def _admit(
        self, caller: Principal, spec: ModelSpec, request: OpenAIGeneration
    ) -> Reservation | None:
        """Hold the request's maximum under the caller's limits (429 if it does not fit)."""
        if self.quotas is None:
            return None
        context = spec.options.context_length or self.manager.settings.context_length
        return await self.quotas.admit_generation(caller, request, context)

    @staticmethod
    async def _prepend(
        first: GenerationOutput, rest: AsyncGenerator[GenerationOutput, None]
    ) -> AsyncGenerator[GenerationOutput, None]:
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
        request: GenerationRequest,
        reservation: Reservation | None = None,
    ) -> AsyncGenerator[GenerationOutput, None]:
        meter = GenerationMeter(
            started=time.perf_counter(),
            ttft=self.metrics.ttft.labels(spec.name),  # looked up once, not per token
            itl=self.metrics.itl.labels(spec.name),
        )
        try:
            async for output in self._engine_outputs(spec, request):
                meter.observe(output, time.perf_counter())
                yield output
        except AimaasError:
            meter.finish = "error"
            raise
        finally:
            if reservation is not None:
                reservation.settle(tokens=meter.tokens_used)
            self._observe_end(caller, spec, request.endpoint, meter)

    async def _engine_outputs(
        self, spec: ModelSpec, request: GenerationRequest
    ) -> AsyncGenerator[GenerationOutput, None]:
        """The engine's outputs for one request. An engine child that dies before its first
        output is answered again: the manager reloads the model on the fallback backend."""
        for attempt in (1, 2):
            answered = False
            try:
                async with self.manager.use(spec) as model:
                    assert isinstance(model, TextGenerator)
                    check_features(request, model.features, spec.name)
                    check_output_limit(request, model.context_length)
                    sent, calls = _tool_calls(request, model)
                    outputs = model.stream(sent)
                    if calls is not None:
                        outputs = calls.transform(outputs)
                    async for output in outputs:
                        answered = True
                        yield output
                return
            except EngineDied as died:
                if answered or attempt == 2:
                    raise
                log.warning("%s; answering the request again on the fallback", died.message)

    def _observe_end(
        self, caller: Principal, spec: ModelSpec, endpoint: Endpoint, meter: GenerationMeter
    ) -> None:
        label = spec.name
        prompt, completion = meter.prompt_tokens, meter.completion_tokens
        self.metrics.e2e.labels(label).observe(time.perf_counter() - meter.started)
        self.metrics.requests.labels(label, endpoint, meter.finish).inc()
        self.metrics.prompt_tokens.labels(label).inc(prompt)
        self.metrics.generated_tokens.labels(label).inc(completion)
        if meter.queue_seconds is not None:
            self.metrics.queue_time.labels(label).observe(meter.queue_seconds)
        if prompt or completion:
            self._record_usage(caller, spec.name, f"/v1/{endpoint}", prompt, completion)

    def _record_usage(
        self, caller: Principal, model: str, endpoint: str, prompt: int, completion: int
    ) -> None:
        self._usage.record(
            RequestUsage(
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
            usage=TokenUsage(prompt_tokens=tokens, total_tokens=tokens),
        )

    def close(self) -> None:
        self._usage.close()  # writes what is still queued


def _encode(vector: np.ndarray, encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
    return [float(x) for x in vector]

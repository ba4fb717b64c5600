"""OpenAI-compatible generation and embeddings: /v1/chat/completions, /v1/completions,
/v1/embeddings."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from aimaas.engine.chunks import Chunk, join_chat, join_completion
from aimaas.engine.types import Endpoint
from aimaas.protocol.openai import (
    ChatCompletionRequest,
    CompletionRequest,
    EmbeddingRequest,
    EmbeddingResponse,
)
from aimaas.runtime.llm import GenerationRequest
from aimaas.security.principal import Principal
from aimaas.server.deps import Inference, ServicesDep
from aimaas.server.routes import new_router
from aimaas.server.services import Services
from aimaas.server.streaming import EventStream, unless_disconnected

router = new_router(prefix="/v1", tags=["openai"])


async def _generate(
    request: Request,
    services: Services,
    caller: Principal,
    endpoint: Endpoint,
    body: GenerationRequest,
) -> Response | dict[str, Any]:
    chunks = await unless_disconnected(request, services.llm.generate(caller, endpoint, body))
    if body.stream:
        return EventStream(chunks, request.url.path)

    async def collect() -> list[Chunk]:
        try:
            return [chunk async for chunk in chunks]
        finally:
            await chunks.aclose()

    collected = await unless_disconnected(request, collect())
    return join_chat(collected) if endpoint == "chat" else join_completion(collected)


@router.post("/chat/completions", response_model=None)
async def chat_completions(
    body: ChatCompletionRequest, request: Request, services: ServicesDep, caller: Inference
) -> Response | dict[str, Any]:
    return await _generate(request, services, caller, "chat", body)


@router.post("/completions", response_model=None)
async def completions(
    body: CompletionRequest, request: Request, services: ServicesDep, caller: Inference
) -> Response | dict[str, Any]:
    return await _generate(request, services, caller, "completions", body)


@router.post("/embeddings")
async def embeddings(
    body: EmbeddingRequest, request: Request, services: ServicesDep, caller: Inference
) -> EmbeddingResponse:
    return await unless_disconnected(request, services.llm.embed(caller, body))

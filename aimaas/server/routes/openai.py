"""OpenAI-compatible generation and embeddings: /v1/chat/completions, /v1/completions,
/v1/embeddings."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from aimaas.protocol.openai import (
    ChatCompletionRequest,
    CompletionRequest,
    EmbeddingRequest,
    EmbeddingResponse,
)
from aimaas.runtime.llm import LLMService, OpenAIGeneration
from aimaas.runtime.openai_shaping import OpenAIStream
from aimaas.security.principal import Principal
from aimaas.server.deps import Inference, LLMDep
from aimaas.server.routes import new_router
from aimaas.server.streaming import EventStream, collect, unless_disconnected

router = new_router(prefix="/v1", tags=["openai"])


async def _generate(
    request: Request, llm: LLMService, caller: Principal, body: OpenAIGeneration
) -> Response | dict[str, Any]:
    generation = await unless_disconnected(request, llm.generate(caller, body))
    shape = OpenAIStream(generation.endpoint, generation.model, include_usage=body.include_usage)
    if body.stream:
        return EventStream(shape.chunks(generation.outputs), request.url.path)
    return shape.join(await unless_disconnected(request, collect(generation.outputs)))


@router.post("/chat/completions", response_model=None)
async def chat_completions(
    body: ChatCompletionRequest, request: Request, llm: LLMDep, caller: Inference
) -> Response | dict[str, Any]:
    return await _generate(request, llm, caller, body)


@router.post("/completions", response_model=None)
async def completions(
    body: CompletionRequest, request: Request, llm: LLMDep, caller: Inference
) -> Response | dict[str, Any]:
    return await _generate(request, llm, caller, body)


@router.post("/embeddings")
async def embeddings(
    body: EmbeddingRequest, request: Request, llm: LLMDep, caller: Inference
) -> EmbeddingResponse:
    return await unless_disconnected(request, llm.embed(caller, body))

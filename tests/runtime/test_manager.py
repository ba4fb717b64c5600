"""The model manager with real models: loading on first use, LRU unloading within the
memory budget (never of a busy model), and keep-alive."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from aimaas.config import EngineSettings
from aimaas.errors import Overloaded
from aimaas.runtime.defaults import DEFAULT_MODELS
from aimaas.runtime.manager import ModelManager
from aimaas.runtime.specs import ModelSpec, ServingOptions


def spec(name: str, **options: float) -> ModelSpec:
    details = next(m for m in DEFAULT_MODELS if m.name == name).details
    return ModelSpec(
        version_id=f"v-{name}",
        name=name,
        runtime="llama.cpp",
        capabilities=frozenset(details["capabilities"]),
        source=details["source"],
        options=ServingOptions(parallel=2, context_length=512, **options),  # type: ignore[arg-type]
    )


def manager(tmp_path: Path, budget_mb: int) -> ModelManager:
    # No prompt cache: the budgets below are sized to the weights and KV caches alone.
    settings = EngineSettings(model_memory_mb=budget_mb, keep_alive_seconds=0, prompt_cache_mb=0)
    return ModelManager(settings, tmp_path)


def test_least_recently_used_idle_model_makes_room(tmp_path: Path) -> None:
    async def scenario() -> None:
        models = manager(tmp_path, budget_mb=300)  # ~116 + ~259 MB: room for one of the two
        chat, base = spec("smollm2-135m-instruct"), spec("gemma-3-270m")
        async with models.use(chat):
            pass
        assert set(models.loaded) == {chat.name}
        async with models.use(base):
            assert set(models.loaded) == {base.name}  # the idle chat model went
            with pytest.raises(Overloaded, match="AIMAAS_MODEL_MEMORY_MB"):
                async with models.use(chat):  # the base model is busy: no room
                    pass
        assert models.used_bytes() <= models.budget_bytes
        await models.close()
        assert models.loaded == {}

    asyncio.run(scenario())


def test_models_that_fit_stay_loaded_together(tmp_path: Path) -> None:
    async def scenario() -> None:
        models = manager(tmp_path, budget_mb=4096)
        for name in ("smollm2-135m-instruct", "gemma-3-270m"):
            async with models.use(spec(name)):
                pass
        assert set(models.loaded) == {"smollm2-135m-instruct", "gemma-3-270m"}
        await models.close()

    asyncio.run(scenario())


def test_keep_alive_unloads_an_idle_model(tmp_path: Path) -> None:
    async def scenario() -> None:
        models = manager(tmp_path, budget_mb=4096)
        async with models.use(spec("smollm2-135m-instruct", keep_alive_seconds=0.5)):
            await asyncio.sleep(1.0)  # in use: kept however long it takes
            assert "smollm2-135m-instruct" in models.loaded
        for _ in range(40):
            if not models.loaded:
                break
            await asyncio.sleep(0.1)
        assert models.loaded == {}
        await models.close()

    asyncio.run(scenario())


def test_the_prompt_cache_counts_against_the_budget(tmp_path: Path) -> None:
    async def loaded_bytes(cache_mb: int) -> int:
        settings = EngineSettings(
            model_memory_mb=4096, keep_alive_seconds=0, prompt_cache_mb=cache_mb
        )
        models = ModelManager(settings, tmp_path)
        async with models.use(spec("smollm2-135m-instruct")):
            used = models.used_bytes()
        await models.close()
        return used

    without, with_cache = asyncio.run(loaded_bytes(0)), asyncio.run(loaded_bytes(64))
    assert with_cache - without == 64 * 1024 * 1024

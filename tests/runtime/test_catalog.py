"""From a model reference to the spec to serve (aimaas/runtime/catalog.py), on a real
registry: served formats and trained ones, refusals, and the short-lived spec cache."""

from __future__ import annotations

import asyncio

import pytest

from aimaas.errors import InvalidInput, NotFound
from aimaas.registry import repository
from aimaas.registry.db import Database
from aimaas.runtime.catalog import SpecCache, find_spec, spec_from_rows
from aimaas.runtime.specs import ServingOptions


def _tenant(db: Database) -> str:
    with db.session() as session:
        return repository.create_tenant(session, name="acme").id


def _register(db: Database, tenant_id: str | None, name: str, **fields: object) -> None:
    with db.session() as session:
        repository.register_model(session, tenant_id=tenant_id, name=name, **fields)  # type: ignore[arg-type]


def test_a_gguf_version_becomes_a_llama_cpp_spec(db: Database) -> None:
    tid = _tenant(db)
    details = {
        "capabilities": ["chat", "completions"],
        "source": {"path": "/models/m.gguf"},
        "options": {"context_length": 2048, "parallel": 2},
        "license": "Apache-2.0",
    }
    _register(db, None, "chat", task="chat", format="gguf", details=details)
    spec = find_spec(db, tenant_id=tid, ref="chat")
    assert spec.runtime == "llama.cpp" and spec.name == "chat" and spec.version == 1
    assert spec.capabilities == frozenset({"chat", "completions"})
    assert spec.source == {"path": "/models/m.gguf"}
    assert spec.options == ServingOptions(context_length=2048, parallel=2)
    assert spec.license == "Apache-2.0" and spec.tenant_id is None


def test_a_trained_version_serves_predict_from_its_stored_files(db: Database) -> None:
    tid = _tenant(db)
    files = {"model.json": "a" * 64, "model.safetensors": "b" * 64}
    _register(
        db, tid, "iris", task="classification", format="aimaas-torch", details={"files": files}
    )
    _register(db, tid, "enc", task="embedding", format="aimaas-onnx", details={"files": files})
    iris = find_spec(db, tenant_id=tid, ref="iris:1")
    assert iris.runtime == "torch" and iris.capabilities == frozenset({"predict"})
    assert iris.source == {"files": files} and iris.tenant_id == tid
    enc = find_spec(db, tenant_id=tid, ref="enc")
    assert enc.capabilities == frozenset({"predict", "embeddings"})


def test_a_format_aimaas_cannot_serve_is_refused(db: Database) -> None:
    tid = _tenant(db)
    _register(db, tid, "old", task="classification", format="pickle", details={})
    with pytest.raises(InvalidInput) as refused:
        find_spec(db, tenant_id=tid, ref="old")
    assert refused.value.param == "model" and "stored as 'pickle'" in str(refused.value)
    with pytest.raises(NotFound):
        find_spec(db, tenant_id=tid, ref="nope")
    with db.session() as session:
        model, version = repository.resolve_version(session, tenant_id=tid, ref="old")
        version.format = "gguf"
        assert spec_from_rows(model, version).capabilities == frozenset()


def test_the_spec_cache_answers_until_forgotten(db: Database) -> None:
    tid = _tenant(db)
    _register(db, tid, "m", task="chat", format="gguf", details={"capabilities": ["chat"]})
    cache = SpecCache(db, ttl_seconds=3600)

    async def twice() -> tuple[int, int, int]:
        first = await cache.get(tid, "m")
        _register(db, tid, "m", task="chat", format="gguf", details={"capabilities": ["chat"]})
        cached = await cache.get(tid, "m")
        cache.forget()
        return first.version, cached.version, (await cache.get(tid, "m")).version

    assert asyncio.run(twice()) == (1, 1, 2)


def test_a_zero_ttl_cache_reads_every_time(db: Database) -> None:
    tid = _tenant(db)
    _register(db, tid, "m", task="chat", format="gguf", details={})
    cache = SpecCache(db, ttl_seconds=0)

    async def read() -> int:
        return (await cache.get(tid, "m")).version

    assert asyncio.run(read()) == 1
    _register(db, tid, "m", task="chat", format="gguf", details={})
    assert asyncio.run(read()) == 2

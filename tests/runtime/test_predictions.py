"""What a prediction request means (aimaas/runtime/predictions.py), in process on a real
registry, store and model manager: a tiny trained classifier answered as KServe v1
``predict`` and as Open Inference Protocol v2 ``infer``, its metadata and readiness, row
metrics, the caller's request quota, and the refusals with their param."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from prometheus_client import CollectorRegistry

from aimaas.config import load_settings
from aimaas.errors import InvalidInput, NotFound, QuotaExceeded
from aimaas.observability.metrics import PredictMetrics
from aimaas.protocol.v2 import InferRequest
from aimaas.registry import repository
from aimaas.registry.db import Database
from aimaas.registry.store import Owner, PlainStore
from aimaas.runtime.catalog import SpecCache
from aimaas.runtime.manager import ModelManager
from aimaas.runtime.predictions import PredictionService, model_ref
from aimaas.security import admin
from aimaas.security.principal import Principal
from aimaas.security.quotas import Quotas
from tests.runtime.trained import logistic_files

T = TypeVar("T")
ROWS = [[2.0, 0.0, 0.0], [-2.0, 0.0, 0.0]]


@dataclass
class World:
    service: PredictionService
    caller: Principal
    registry: CollectorRegistry

    def run(self, work: Callable[[PredictionService], Awaitable[T]]) -> T:
        async def go() -> T:
            try:
                return await work(self.service)
            finally:
                await self.service.manager.close()

        return asyncio.run(go())


@pytest.fixture
def world(db: Database, tmp_path: Path) -> World:
    settings = load_settings(data_dir=tmp_path / "data")
    store = PlainStore(settings.storage.artifacts_dir, db=db)
    store.prepare()
    admin.create_tenant(db, name="acme")
    key = admin.create_key(db, tenant="acme", scopes=["infer"])
    weights, description = logistic_files()
    version_id = repository.new_version_id()
    owner = Owner.model(key.tenant, "clf", version_id, 1)
    files = {
        "model.safetensors": store.put(weights, owner),
        "model.json": store.put(description, owner),
    }
    with db.session() as session:
        repository.register_model(
            session, tenant_id=key.tenant, name="clf", task="classification",
            format="aimaas-torch", details={"files": files}, version_id=version_id,
        )  # fmt: skip
        repository.register_model(
            session, tenant_id=key.tenant, name="chat", task="chat", format="gguf",
            details={"capabilities": ["chat"]},
        )  # fmt: skip
    registry = CollectorRegistry()
    service = PredictionService(
        SpecCache(db),
        ModelManager(settings.engine, settings.storage.data_dir, store=store),
        PredictMetrics(registry),
        quotas=Quotas(db, ttl_seconds=0),
    )
    caller = Principal(key.id, key.tenant, "acme", frozenset(key.scopes))
    return World(service, caller, registry)


def _infer(**extra: Any) -> InferRequest:
    body = {"inputs": [{"name": "input", "shape": [2, 3], "datatype": "FP32", "data": ROWS}]}
    return InferRequest.model_validate(body | extra)


def test_model_ref_of_a_v2_path() -> None:
    assert model_ref("m", None) == "m"
    assert model_ref("m", "007") == "m:7"
    for bad in ("x", "-1", "1.0", ""):
        with pytest.raises(InvalidInput) as refused:
            model_ref("m", bad)
        assert refused.value.param == "version", bad


def test_predict_answers_each_instance_and_counts_its_rows(world: World) -> None:
    answer = world.run(lambda s: s.predict(world.caller, "clf", ROWS))
    assert answer.model == "clf" and answer.version == 1
    assert [p["label"] for p in answer.predictions] == ["yes", "no"]
    first = answer.predictions[0]["probabilities"]
    assert set(first) == {"no", "yes"} and first["yes"] == pytest.approx(1 - first["no"], abs=1e-5)
    rows = world.registry.get_sample_value(
        "aimaas_predict_rows_total", {"model": "clf", "endpoint": "predict"}
    )
    assert rows == 2.0


def test_infer_answers_every_output_or_the_ones_asked_for(world: World) -> None:
    answer = world.run(lambda s: s.infer(world.caller, "clf", "1", _infer(id="req-1")))
    assert (answer.model_name, answer.model_version, answer.id) == ("clf", "1", "req-1")
    outputs = {o.name: o for o in answer.outputs}
    assert outputs["label"].data == ["yes", "no"] and outputs["label"].shape == [2]
    assert outputs["probabilities"].shape == [2, 2]
    only = world.run(
        lambda s: s.infer(world.caller, "clf", None, _infer(outputs=[{"name": "label"}]))
    )
    assert [o.name for o in only.outputs] == ["label"]
    rows = world.registry.get_sample_value(
        "aimaas_predict_rows_total", {"model": "clf", "endpoint": "infer"}
    )
    assert rows == 4.0


def test_infer_refuses_unknown_outputs_and_bad_inputs(world: World) -> None:
    with pytest.raises(InvalidInput) as output:
        world.run(lambda s: s.infer(world.caller, "clf", None, _infer(outputs=[{"name": "z"}])))
    assert output.value.param == "outputs" and "['label', 'probabilities']" in str(output.value)
    bad = InferRequest.model_validate(
        {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}
    )
    with pytest.raises(InvalidInput) as unknown:
        world.run(lambda s: s.infer(world.caller, "clf", None, bad))
    assert unknown.value.param == "x"


def test_metadata_and_readiness(world: World) -> None:
    meta = world.run(lambda s: s.metadata(world.caller, "clf", None))
    assert meta.name == "clf" and meta.versions == ["1"] and meta.platform == "pytorch"
    assert [(t.name, t.datatype, t.shape) for t in meta.inputs] == [("input", "FP32", [-1, 3])]
    assert {t.name for t in meta.outputs} == {"probabilities", "label"}
    assert meta.parameters == {
        "algorithm": "logistic_regression",
        "task": "classification",
        "labels": ["no", "yes"],
    }
    assert world.run(lambda s: s.ready(world.caller, "clf", "1")) is True


def test_language_models_and_missing_ones_are_refused(world: World) -> None:
    with pytest.raises(InvalidInput) as language:
        world.run(lambda s: s.predict(world.caller, "chat", ROWS))
    assert language.value.param == "model" and "/v1/chat/completions" in str(language.value)
    with pytest.raises(NotFound):
        world.run(lambda s: s.predict(world.caller, "nope", ROWS))
    with pytest.raises(NotFound):
        world.run(lambda s: s.ready(world.caller, "clf", "2"))


def test_each_request_counts_against_the_callers_request_rate(world: World) -> None:
    quotas = world.service.quotas
    assert quotas is not None
    asyncio.run(quotas.set_limits("key", world.caller.key_id, {"requests_per_minute": 1}))
    world.run(lambda s: s.predict(world.caller, "clf", ROWS[:1]))
    with pytest.raises(QuotaExceeded, match="requests_per_minute"):
        world.run(lambda s: s.predict(world.caller, "clf", ROWS[:1]))

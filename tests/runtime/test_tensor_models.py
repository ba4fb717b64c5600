"""Models trained here, loaded for serving (aimaas/runtime/tensor_models.py): a real tiny
logistic regression read from a real store, its rows run through the dynamic batcher,
batch metrics, and the refusal to embed with a classifier."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from aimaas.errors import InvalidInput
from aimaas.observability.metrics import PredictMetrics
from aimaas.registry.store import Owner, PlainStore
from aimaas.runtime.tensor_models import TensorModel
from tests.runtime.trained import logistic_files

OWNER = Owner.model("tn-a", "clf", "mv-1", 1)


def _load(tmp_path: Path, metrics: PredictMetrics | None = None) -> TensorModel:
    store = PlainStore(tmp_path / "artifacts")
    store.prepare()
    weights, description = logistic_files()
    files = {
        "model.safetensors": store.put(weights, OWNER),
        "model.json": store.put(description, OWNER),
    }
    assert files["model.json"] == hashlib.sha256(description).hexdigest()
    return TensorModel.from_store(
        "clf", store, files, OWNER, max_batch=8, max_delay=0.001, metrics=metrics
    )


def test_a_stored_model_loads_and_predicts_each_row(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    model = _load(tmp_path, PredictMetrics(registry))
    weights, _ = logistic_files()
    assert model.memory_bytes == 2 * len(weights) + 16 * 1024 * 1024
    assert model.predictor.task == "classification" and model.predictor.labels == ["no", "yes"]

    async def predict() -> list[dict[str, np.ndarray]]:
        try:
            items = model.predictor.prepare_instances([[2.0, 0, 0], [-2.0, 0, 0], [3.0, 1, 1]])
            return await model.run(items)
        finally:
            await model.aclose()

    outputs = asyncio.run(predict())
    assert [str(o["label"]) for o in outputs] == ["yes", "no", "yes"]
    for output in outputs:
        np.testing.assert_allclose(output["probabilities"].sum(), 1.0, rtol=0, atol=1e-5)
    rows = registry.get_sample_value("aimaas_predict_batch_rows_sum", {"model": "clf"})
    assert rows == 3.0
    passes = registry.get_sample_value("aimaas_predict_batch_seconds_count", {"model": "clf"})
    assert passes is not None and passes >= 1


def test_concurrent_requests_get_their_own_rows_back(tmp_path: Path) -> None:
    model = _load(tmp_path)
    rows = [[float(n - 5), 0.0, 0.0] for n in range(11)]

    async def predict() -> list[list[str]]:
        try:
            answers = await asyncio.gather(
                *(model.run(model.predictor.prepare_instances([row])) for row in rows)
            )
            return [[str(o["label"]) for o in answer] for answer in answers]
        finally:
            await model.aclose()

    assert asyncio.run(predict()) == [["yes" if row[0] > 0 else "no"] for row in rows]
    assert not model.busy


def test_a_classifier_makes_no_embeddings(tmp_path: Path) -> None:
    model = _load(tmp_path)

    async def embed() -> None:
        try:
            await model.embed(["hello"])
        finally:
            await model.aclose()

    with pytest.raises(InvalidInput) as refused:
        asyncio.run(embed())
    assert refused.value.param == "model" and "does not make embeddings" in str(refused.value)


def test_a_bad_instance_fails_alone_before_the_batch(tmp_path: Path) -> None:
    model = _load(tmp_path)
    try:
        with pytest.raises(InvalidInput):
            model.predictor.prepare_instances([[1.0, 2.0]])  # two features, not three
    finally:
        asyncio.run(model.aclose())

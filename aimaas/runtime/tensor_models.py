"""Models trained here, loaded for serving: a predictor behind a dynamic batcher.

Requests are validated and preprocessed one by one (``Predictor.prepare_*``), so a bad one
fails alone; the valid rows of concurrent requests then share one forward pass on the
model's own thread.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from aimaas.errors import InvalidInput
from aimaas.learn import artifacts
from aimaas.learn.servable import Predictor
from aimaas.observability.metrics import PredictMetrics
from aimaas.registry.store import ArtifactStore, Owner
from aimaas.runtime.batcher import DynamicBatcher

Outputs = dict[str, np.ndarray]


class TensorModel:
    def __init__(
        self,
        name: str,
        predictor: Predictor,
        *,
        memory_bytes: int,
        max_batch: int,
        max_delay: float,
        metrics: PredictMetrics | None = None,
    ) -> None:
        self.name = name
        self.predictor = predictor
        self.memory_bytes = memory_bytes
        self.metrics = metrics
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"predict-{name}")
        self.batcher: DynamicBatcher[np.ndarray, Outputs] = DynamicBatcher(
            self._run, max_batch=max_batch, max_delay=max_delay, executor=self._executor
        )

    @classmethod
    def from_store(
        cls,
        name: str,
        store: ArtifactStore,
        files: dict[str, str],
        owner: Owner,
        *,
        max_batch: int,
        max_delay: float,
        metrics: PredictMetrics | None = None,
    ) -> TensorModel:
        weights = store.read(files.get("model.onnx") or files["model.safetensors"], owner)
        predictor = artifacts.load_predictor(weights, store.read(files["model.json"], owner))
        return cls(
            name,
            predictor,
            memory_bytes=2 * len(weights) + 16 * 1024 * 1024,
            max_batch=max_batch,
            max_delay=max_delay,
            metrics=metrics,
        )

    @property
    def busy(self) -> bool:
        return self.batcher.busy

    def _run(self, items: list[np.ndarray]) -> list[Outputs]:
        started = time.perf_counter()
        outputs = self.predictor.run(items)
        if self.metrics is not None:
            self.metrics.batch_rows.labels(self.name).observe(len(items))
            self.metrics.batch_seconds.labels(self.name).observe(time.perf_counter() - started)
        return outputs

    async def run(self, items: list[np.ndarray]) -> list[Outputs]:
        """Per-item outputs of prepared items, batched with other requests' items."""
        return await self.batcher.submit(items)

    async def embed(self, texts: list[str]) -> tuple[list[np.ndarray], int]:
        """Word2vec models: a vector per text (the mean of its words' vectors)."""
        if self.predictor.task != "embedding":
            raise InvalidInput(f"Model '{self.name}' does not make embeddings.", param="model")
        outputs = await self.run(self.predictor.prepare_instances(list(texts)))
        tokens = sum(len(text.split()) for text in texts)
        return [output["embedding"] for output in outputs], tokens

    async def aclose(self) -> None:
        await self.batcher.close()
        await asyncio.to_thread(self._executor.shutdown, wait=True)

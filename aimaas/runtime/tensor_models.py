"""Models trained here, loaded for serving: a predictor behind a dynamic batcher.

Requests are validated and preprocessed one by one (``Predictor.prepare_*``), so a bad one
fails alone; the valid rows of concurrent requests then share one forward pass on the
model's own thread, or on the event loop when the model is so small that its batches cost
less than handing them to a thread (``INLINE_SECONDS``).

The first model loaded freezes what the process holds by then (``gc.freeze``): the server's
modules, torch's and this model's objects are never garbage collected, and each full
collection stops every request while it walks them all (0.1 to 0.2 s, about every 1.5 s
under load, before; a few ms after).

Torch runs these forward passes on one intra-op thread: the batches are small, and a second
OpenMP thread has to share a core with the event loop, which costs many times what it saves
(a batch of 8 rows of a logistic regression: 0.14 ms on one thread, 3.7 ms on two on a busy
2-core machine).
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from aimaas.errors import InvalidInput
from aimaas.learn import artifacts
from aimaas.learn.servable import Predictor
from aimaas.observability.metrics import PredictMetrics
from aimaas.process import pin_torch_threads
from aimaas.registry.formats import weights_file
from aimaas.registry.store import ArtifactStore, Owner
from aimaas.runtime.batcher import DynamicBatcher

Outputs = dict[str, np.ndarray]

# Batches that have been costing less CPU time than this run on the event loop. On the model's
# thread, each torch op gives up the GIL and then waits for it while the loop is busy with
# other requests: under load the digits CNN's batches (about 30 rows, 1.5 ms of CPU) took 16
# to 20 ms there from start to end, against 1.5 ms inline.
INLINE_SECONDS = 0.002

_local = threading.local()
_frozen = threading.Event()


def _freeze_once() -> None:
    """Leave what the process holds now out of garbage collection, once per process."""
    if not _frozen.is_set():
        _frozen.set()
        gc.collect()
        gc.freeze()


def _one_torch_thread() -> None:
    """Torch ops on the calling thread (the model's, or the event loop's for an inline batch)
    use one intra-op thread from now on; the rest of the process keeps its count."""
    if getattr(_local, "one_thread", False):
        return
    _local.one_thread = True
    pin_torch_threads(1)


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
            self._run,
            max_batch=max_batch,
            max_delay=max_delay,
            executor=self._executor,
            inline_below=INLINE_SECONDS,
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
        weights = store.read(files[weights_file(files)], owner)
        predictor = artifacts.load_predictor(weights, store.read(files["model.json"], owner))
        _freeze_once()
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
        _one_torch_thread()
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

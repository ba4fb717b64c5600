"""Sentence embeddings, dynamically batched across concurrent requests: a sentence-transformers
model runs on ONNX Runtime (its graph exported once and cached, see ``onnx_embeddings``),
or on PyTorch where the export is not possible."""

from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from aimaas.runtime.batcher import DynamicBatcher
from aimaas.runtime.onnx_embeddings import OnnxSentenceEncoder

log = logging.getLogger("aimaas.models")


@runtime_checkable
class Embedder(Protocol):
    """A loaded model that turns texts into vectors (sentence-transformers, word2vec)."""

    async def embed(self, texts: list[str]) -> tuple[list[np.ndarray], int]: ...


class SentenceEmbedder:
    """A sentence-transformers folder's model. ``backend="auto"`` runs it on ONNX Runtime
    when its export succeeds and on PyTorch (saying why in the log) when it does not;
    ``"onnx"`` and ``"torch"`` insist on one."""

    def __init__(
        self,
        name: str,
        path: Path,
        *,
        max_batch: int,
        max_delay: float,
        threads: int,
        backend: Literal["auto", "onnx", "torch"] = "auto",
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

        self.name = name
        self.model: Any = None  # the SentenceTransformer, on PyTorch
        self.onnx: OnnxSentenceEncoder | None = None
        if backend != "torch":
            try:
                self.onnx = OnnxSentenceEncoder(path, threads=threads)
            except Exception as exc:
                if backend == "onnx":
                    raise
                log.warning("Embedding model %s runs on PyTorch: no ONNX graph (%s)", name, exc)
        if self.onnx is not None:
            self.backend = "onnxruntime"
            self.dimensions = self.onnx.dimensions
        else:
            import torch
            from sentence_transformers import SentenceTransformer

            if threads:
                torch.set_num_threads(threads)
            self.backend = "torch"
            self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
            self.dimensions = int(self.model.get_embedding_dimension() or 0)
        self.memory_bytes = sum(f.stat().st_size for f in path.rglob("*.safetensors")) * 2
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"embed-{name}")
        self.batcher: DynamicBatcher[str, tuple[np.ndarray, int]] = DynamicBatcher(
            self._encode, max_batch=max_batch, max_delay=max_delay, executor=self._executor
        )

    @property
    def busy(self) -> bool:
        return self.batcher.busy

    def _encode(self, texts: list[str]) -> list[tuple[np.ndarray, int]]:
        if self.onnx is not None:
            return self.onnx.encode(texts)
        vectors = self.model.encode(
            texts, batch_size=len(texts), convert_to_numpy=True, normalize_embeddings=False
        )
        limit = int(self.model.max_seq_length or 512)
        token_counts = [
            min(len(ids), limit)
            for ids in self.model.tokenizer(texts, add_special_tokens=True)["input_ids"]
        ]
        return list(zip(vectors, token_counts, strict=True))

    async def embed(self, texts: list[str]) -> tuple[list[np.ndarray], int]:
        """Embeddings of ``texts`` in order, and how many tokens they took."""
        results = await self.batcher.submit(texts)
        return [vector for vector, _ in results], sum(tokens for _, tokens in results)

    async def aclose(self) -> None:
        await self.batcher.close()
        await asyncio.to_thread(self._executor.shutdown, wait=True)

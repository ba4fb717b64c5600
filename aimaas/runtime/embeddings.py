"""Sentence embeddings (sentence-transformers on PyTorch), dynamically batched across
concurrent requests."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from aimaas.runtime.batcher import DynamicBatcher


@runtime_checkable
class Embedder(Protocol):
    """A loaded model that turns texts into vectors (sentence-transformers, word2vec)."""

    async def embed(self, texts: list[str]) -> tuple[list[np.ndarray], int]: ...


class SentenceEmbedder:
    def __init__(
        self, name: str, path: Path, *, max_batch: int, max_delay: float, threads: int
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

        if threads:
            torch.set_num_threads(threads)
        self.name = name
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

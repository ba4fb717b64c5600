"""SentenceEmbedder on the shipped all-MiniLM-L6-v2 (real models, no mocks): auto picks
bfloat16 where the CPU computes in it and stays within 1e-3 cosine of float32; a bfloat16
that misses its tolerance is passed over, saying why."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from aimaas.cpu import this_cpu
from aimaas.runtime.embeddings import SentenceEmbedder, fastest_first
from aimaas.runtime.onnx_embeddings import cosine_gap
from tests.runtime.conftest import embed_all

COSINE_TOLERANCE = 1e-3  # what aimaas promises against float32 PyTorch (measured: ~1e-4)
TEXTS = [
    "a",
    "The quick brown fox jumps over the lazy dog.",
    "Ein kleiner Hund läuft über die Wiese.",
    "東京は日本の首都です。",
    "def add(x, y):\n    return x + y",
    "Stock markets fell sharply on Monday amid fears of a global recession.",
    "The patient presented with acute abdominal pain, fever and nausea. " * 30,  # truncated
]


def float32_vectors(reference: Any, texts: list[str]) -> np.ndarray:
    return np.asarray(reference.encode(texts, convert_to_numpy=True, show_progress_bar=False))


def test_auto_runs_in_bfloat16_only_where_the_cpu_computes_in_it(
    folder: Path, reference: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIMAAS_CACHE_DIR", str(tmp_path))  # an ONNX export, on other CPUs
    embedder = SentenceEmbedder("minilm", folder, max_batch=16, max_delay=0.0, threads=0)
    native = this_cpu().native_bf16
    assert fastest_first()[-2:] == ("onnx", "torch")
    assert embedder.backend == ("torch-bf16" if native else "onnx")
    assert embedder.why == (
        "the CPU computes in bfloat16" if native else "no native bfloat16 on this CPU"
    )
    got, _ = embed_all(embedder, TEXTS)
    assert cosine_gap(got, float32_vectors(reference, TEXTS)) <= COSINE_TOLERANCE


def test_bfloat16_stays_within_its_tolerance_of_float32(folder: Path, reference: Any) -> None:
    embedder = SentenceEmbedder(
        "minilm", folder, max_batch=16, max_delay=0.0, threads=0, backends=("torch-bf16",)
    )
    assert embedder.backend == "torch-bf16" and embedder.dimensions == 384
    assert embedder.why == "set by embedding_backend"
    got, tokens = embed_all(embedder, TEXTS)
    want = float32_vectors(reference, TEXTS)
    assert got.dtype == np.float32 and got.shape == want.shape
    assert cosine_gap(got, want) <= COSINE_TOLERANCE
    ids = reference.tokenizer(TEXTS, add_special_tokens=True)["input_ids"]
    assert tokens == sum(min(len(row), reference.max_seq_length) for row in ids)


def test_a_bfloat16_that_misses_its_tolerance_is_passed_over(
    folder: Path, reference: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "aimaas.models")
    embedder = SentenceEmbedder(
        "minilm",
        folder,
        max_batch=16,
        max_delay=0.0,
        threads=0,
        backends=("torch-bf16", "torch"),
        bf16_tolerance=0.0,  # bfloat16 always differs a little
    )
    assert embedder.backend == "torch"
    assert "not on torch-bf16" in caplog.text and "bfloat16 differs" in caplog.text
    assert embedder.why.startswith("torch-bf16: bfloat16 differs")
    got, _ = embed_all(embedder, TEXTS[:3])
    np.testing.assert_allclose(got, float32_vectors(reference, TEXTS[:3]), atol=1e-5)  # float32

"""The ONNX Runtime embedder against sentence-transformers on PyTorch, on the shipped
all-MiniLM-L6-v2 (a real export, no mocks): same vectors within 1e-3 cosine (and 1e-4
absolute), same token counts, a cache that is reused and rebuilt when corrupt, and the
PyTorch fallback for a pipeline the export does not reproduce."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from aimaas.runtime.embeddings import SentenceEmbedder
from aimaas.runtime.onnx_embeddings import (
    ExportUnsupported,
    OnnxSentenceEncoder,
    read_pipeline,
    sub_batches,
)
from tests.runtime.conftest import embed_all

COSINE_TOLERANCE = 1e-3  # most 1 - cosine between ONNX Runtime and PyTorch
ABS_TOLERANCE = 1e-4  # most absolute difference in any component (measured: ~3e-7)

SENTENCES = [
    "",
    "a",
    "Hello world.",
    "The quick brown fox jumps over the lazy dog.",
    "What is the capital of France?",
    "Ein kleiner Hund läuft über die Wiese.",
    "Le chat est sur la table, et il dort.",
    "¿Dónde está la biblioteca?",
    "Привет, как дела?",
    "東京は日本の首都です。",
    "北京是中国的首都。",
    "مرحبا بالعالم",
    "def add(x, y):\n    return x + y",
    "SELECT * FROM users WHERE id = 42;",
    "12345 67890 3.14159",
    "   leading and trailing spaces   ",
    "emoji 🙂🚀 and punctuation?!...",
    "Stock markets fell sharply on Monday amid fears of a global recession.",
    # Longer than the model's 256 tokens: truncated, by both.
    "The patient presented with acute abdominal pain, fever and nausea. " * 30,
    " ".join(f"word{i}" for i in range(400)),
]
MAX_SEQ_LENGTH = 256


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What AIMAAS_CACHE_DIR names in the tests that construct a ``SentenceEmbedder``."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def cache(cache_root: Path) -> Path:
    return cache_root / "onnx-embeddings"


@pytest.fixture(scope="module")
def encoder(folder: Path, cache: Path) -> OnnxSentenceEncoder:
    built = OnnxSentenceEncoder(folder, cache=cache)
    assert built.built  # an empty cache: this construction exported the graph
    return built


def expected(reference: Any, texts: list[str]) -> np.ndarray:
    return np.asarray(
        reference.encode(
            texts,
            convert_to_numpy=True,
            normalize_embeddings=False,
            show_progress_bar=False,
        )
    )


def assert_close(got: np.ndarray, want: np.ndarray) -> None:
    cosine = (got * want).sum(1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(want, axis=1))
    assert float(1 - cosine.min()) <= COSINE_TOLERANCE
    assert float(np.abs(got - want).max()) <= ABS_TOLERANCE


def test_a_batch_of_twenty_matches_sentence_transformers(
    encoder: OnnxSentenceEncoder, reference: Any
) -> None:
    results = encoder.encode(SENTENCES)
    got = np.stack([vector for vector, _ in results])
    assert got.shape == (len(SENTENCES), 384) and got.dtype == np.float32
    assert_close(got, expected(reference, SENTENCES))
    # The model ends in a Normalize module: unit vectors even with normalize_embeddings=False.
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_one_at_a_time_matches_sentence_transformers(
    encoder: OnnxSentenceEncoder, reference: Any
) -> None:
    got = np.stack([encoder.encode([text])[0][0] for text in SENTENCES])
    want = np.concatenate([expected(reference, [text]) for text in SENTENCES])
    assert_close(got, want)


def test_token_counts_are_the_torch_paths(encoder: OnnxSentenceEncoder, reference: Any) -> None:
    counts = [tokens for _, tokens in encoder.encode(SENTENCES)]
    ids = reference.tokenizer(SENTENCES, add_special_tokens=True)["input_ids"]
    assert counts == [min(len(row), MAX_SEQ_LENGTH) for row in ids]
    assert counts[-1] == counts[-2] == MAX_SEQ_LENGTH and counts[0] == 2  # [CLS] [SEP]


def test_the_cache_is_reused(encoder: OnnxSentenceEncoder, folder: Path, cache: Path) -> None:
    before = encoder.path.stat().st_mtime_ns
    again = OnnxSentenceEncoder(folder, cache=cache)
    assert not again.built
    assert again.path == encoder.path and again.path.stat().st_mtime_ns == before
    assert [p.suffix for p in cache.iterdir() if p.suffix not in (".lock",)] == [".onnx"]


def test_a_corrupt_cached_file_is_rebuilt(
    folder: Path,
    encoder: OnnxSentenceEncoder,
    reference: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = encoder.path.read_bytes()
    (tmp_path / encoder.path.name).write_bytes(data[: len(data) // 2])  # a write cut short
    rebuilt = OnnxSentenceEncoder(folder, cache=tmp_path)
    assert rebuilt.built and "Rebuilding the cached ONNX graph" in caplog.text
    got = np.stack([vector for vector, _ in rebuilt.encode(SENTENCES[:6])])
    assert_close(got, expected(reference, SENTENCES[:6]))
    assert OnnxSentenceEncoder(folder, cache=tmp_path).built is False


def test_sub_batches_sort_by_length_within_a_token_budget() -> None:
    lengths = [5, 100, 7, 6, 100, 50]
    groups = sub_batches(lengths, 210)
    assert groups == [[0, 3, 2, 5], [1, 4]]  # 4 rows padded to 50, then 2 x 100 (a third: 300)
    assert sub_batches(lengths, 150) == [[0, 3, 2], [5], [1], [4]]
    assert sorted(row for group in groups for row in group) == list(range(len(lengths)))
    assert sub_batches([300, 3], 10) == [[1], [0]]  # a row longer than the budget goes alone


@pytest.fixture
def cls_pooled(folder: Path, tmp_path: Path) -> Iterator[Path]:
    """The shipped model with CLS pooling instead of mean (its files linked, not copied)."""
    copy = tmp_path / "cls-model"
    copy.mkdir()
    for path in folder.iterdir():
        if path.is_file():
            (copy / path.name).symlink_to(path)
    (copy / "1_Pooling").mkdir()
    pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
    pooling |= {"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}
    (copy / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    yield copy


def test_sentence_embedder_runs_on_onnxruntime(
    folder: Path, cache_root: Path, encoder: OnnxSentenceEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIMAAS_CACHE_DIR", str(cache_root))  # where `encoder` exported to
    embedder = SentenceEmbedder(
        "minilm", folder, max_batch=32, max_delay=0.002, threads=0, backends=("onnx",)
    )
    assert embedder.backend == "onnx" and embedder.dimensions == 384
    assert embedder.onnx is not None and not embedder.onnx.built

    vectors, tokens = embed_all(embedder, SENTENCES[:8])
    want = encoder.encode(SENTENCES[:8])
    assert tokens == sum(count for _, count in want)
    np.testing.assert_allclose(vectors, np.stack([v for v, _ in want]), atol=1e-5)


def test_a_pipeline_it_cannot_reproduce_runs_on_pytorch(
    cls_pooled: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIMAAS_CACHE_DIR", str(cls_pooled.parent / "cache"))
    with pytest.raises(ExportUnsupported, match="pooling"):
        read_pipeline(cls_pooled)
    embedder = SentenceEmbedder(
        "cls", cls_pooled, max_batch=8, max_delay=0.0, threads=0, backends=("onnx", "torch")
    )
    assert embedder.backend == "torch" and embedder.onnx is None
    assert "not on onnx" in caplog.text and "pooling" in caplog.text
    assert embedder.passed_over and embedder.passed_over[0].startswith("onnx: ")
    texts = ["a cat", "a kitten"]

    vectors, tokens = embed_all(embedder, texts)
    assert vectors.shape == (2, 384)
    assert tokens == sum(len(ids) for ids in embedder.model.tokenizer(texts)["input_ids"])

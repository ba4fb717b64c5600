"""Perplexity of a tiny random causal LM equals exp(mean NLL) computed independently here
with transformers' own loss, on short texts and on a text longer than the window."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from aimaas.errors import InvalidInput
from aimaas.evaluate.perplexity import perplexity
from tests.evaluate import WORDS, tiny_causal_lm


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_causal_lm(tmp_path_factory.mktemp("lm") / "tiny")


def reference(path: Path, texts: list[str]) -> float:
    """transformers' mean causal-LM loss per text, weighted by the tokens it predicts."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True).eval()
    total, count = 0.0, 0
    for text in texts:
        ids = tokenizer(text, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            loss = model(input_ids=ids, labels=ids).loss
        total += float(loss) * (ids.shape[1] - 1)
        count += ids.shape[1] - 1
    return math.exp(total / count)


def test_perplexity_equals_an_independent_computation(model_dir: Path) -> None:
    texts = ["the cat sat on a mat", "a dog ran far", "bird sang loud and the cat ate fish"]
    result = perplexity(model_dir, texts)
    assert result.task == "language_model" and result.rows == 3
    assert result.metrics["perplexity"] == pytest.approx(reference(model_dir, texts), rel=1e-5)
    # A random model over a 19-word vocabulary is about as unsure as a uniform guess.
    assert 5 < result.metrics["perplexity"] < 60


def test_windows_score_every_token_once(model_dir: Path) -> None:
    long = " ".join(WORDS[i % len(WORDS)] for i in range(50))
    whole = perplexity(model_dir, [long])
    assert whole.metrics["perplexity"] == pytest.approx(reference(model_dir, [long]), rel=1e-5)
    windowed = perplexity(model_dir, [long], window=8)
    assert windowed.metrics["tokens"] == whole.metrics["tokens"] == 49  # 50 words, no <s>
    # Windows of 8 overlapping by one: [0, 8), [7, 15), ... each scored on its own.
    words = long.split()
    pieces = [" ".join(words[start : start + 8]) for start in range(0, 49, 7)]
    assert windowed.metrics["perplexity"] == pytest.approx(reference(model_dir, pieces), rel=1e-5)
    assert windowed.metrics["perplexity"] != pytest.approx(whole.metrics["perplexity"])


def test_nothing_to_score_is_refused(model_dir: Path) -> None:
    with pytest.raises(InvalidInput) as info:
        perplexity(model_dir, ["", ""])
    assert info.value.param == "file"

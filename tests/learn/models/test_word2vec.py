"""models/word2vec.py: skip-gram with negative sampling puts words that share contexts
next to each other; its loss is the formula's, and a text is the mean of its real words'
center vectors."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from aimaas.learn import artifacts, trainer
from aimaas.learn.models.word2vec import SkipGram, Word2VecConfig
from tests.learn import cluster_corpus, never, no_events, one_thread


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


def test_word2vec_puts_each_words_nearest_neighbour_in_its_cluster() -> None:
    corpus, cluster = cluster_corpus()
    model = trainer.train(
        "word2vec",
        corpus,
        None,
        {"epochs": 5, "embedding_dim": 32},
        seed=0,
        checkpoint_dir=None,
        on_event=no_events,
        should_stop=never,
    )
    predictor = artifacts.load_predictor(*artifacts.save(model))
    words = list(cluster)
    vectors = np.stack([o["embedding"] for o in predictor.run(predictor.prepare_instances(words))])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = vectors @ vectors.T  # cosine
    np.fill_diagonal(similarity, -np.inf)
    nearest = similarity.argmax(axis=1)
    share = np.mean([cluster[w] == cluster[words[j]] for w, j in zip(words, nearest, strict=True)])
    print(f"word2vec: {share:.3f} of words have their nearest neighbour in their cluster")
    assert share >= 0.9
    assert predictor.signature.outputs[0].shape == [-1, 32]


@torch.no_grad()
def test_a_fresh_model_starts_at_log_two_per_word() -> None:
    """Context vectors start at zero, so every sigmoid is 1/2: the loss is (1 + k)·log 2."""
    torch.manual_seed(0)
    model = SkipGram(Word2VecConfig(vocab_size=20, embedding_dim=8))
    assert float(model.center.weight.abs().max()) <= 0.5 / 8
    assert float(model.context.weight.abs().max()) == 0.0
    loss = model.loss(torch.tensor([1, 2]), torch.tensor([3, 4]), torch.tensor([[5] * 4, [6] * 4]))
    assert float(loss) == pytest.approx(5 * math.log(2), rel=1e-6)


@torch.no_grad()
def test_the_loss_is_the_negative_sampling_formula() -> None:
    torch.manual_seed(1)
    model = SkipGram(Word2VecConfig(vocab_size=10, embedding_dim=4))
    torch.nn.init.normal_(model.context.weight)
    center, context = torch.tensor([2, 7]), torch.tensor([3, 1])
    negatives = torch.tensor([[4, 5, 6], [8, 9, 0]])
    expected = 0.0
    for row in range(2):
        v = model.center.weight[center[row]]
        term = -F.logsigmoid(model.context.weight[context[row]] @ v)
        for n in negatives[row]:
            term = term - F.logsigmoid(-(model.context.weight[n] @ v))
        expected += float(term) / 2
    assert float(model.loss(center, context, negatives)) == pytest.approx(expected, rel=1e-5)


@torch.no_grad()
def test_a_text_is_the_mean_of_its_real_words_vectors() -> None:
    model = SkipGram(Word2VecConfig(vocab_size=6, embedding_dim=3))
    table = model.center.weight
    out = model(torch.tensor([[2, 4, 0], [5, 5, 5]]), torch.tensor([2, 3]))
    assert torch.allclose(out[0], (table[2] + table[4]) / 2, atol=1e-7)
    assert torch.allclose(out[1], table[5], atol=1e-7)
    unpadded = model(torch.tensor([[2, 4]]))
    assert torch.allclose(unpadded[0], out[0], atol=1e-7)

"""Skip-gram word2vec: a text's vector is the mean of its words' vectors, padding left out;
the negative-sampling loss falls when a true pair is pulled together."""

from __future__ import annotations

import torch

from aimaas.learn.models.word2vec import SkipGram, Word2VecConfig
from tests.learn.models.padding import padded_pair


def test_a_texts_vector_is_the_mean_of_its_words() -> None:
    torch.manual_seed(0)
    network = SkipGram(Word2VecConfig(vocab_size=30, embedding_dim=6))
    ids, lengths, alone = padded_pair(vocab=30, steps=8, real=3)
    vectors = network(ids, lengths)
    assert vectors.shape == (2, 6)
    assert torch.allclose(vectors[1], network.center(alone[0]).mean(dim=0), atol=1e-6)


def test_a_step_on_true_pairs_lowers_their_loss() -> None:
    torch.manual_seed(0)
    network = SkipGram(Word2VecConfig(vocab_size=30, embedding_dim=6))
    center, context = torch.tensor([2, 3]), torch.tensor([4, 5])
    negatives = torch.tensor([[10, 11], [12, 13]])
    optimizer = torch.optim.SGD(network.parameters(), lr=1.0)
    before = network.loss(center, context, negatives)
    for _ in range(20):
        optimizer.zero_grad()
        network.loss(center, context, negatives).backward()
        optimizer.step()
    assert network.loss(center, context, negatives) < before

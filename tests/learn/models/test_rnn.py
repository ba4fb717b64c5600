"""LSTM and GRU classifiers: token ids or feature sequences in, one score per class out; a
padded row scores as it does unpadded."""

from __future__ import annotations

import pytest
import torch

from aimaas.learn.models.rnn import RNN, RNNConfig
from tests.learn.models.padding import padded_pair


def _config(
    cell: str, *, vocab: int = 50, features: int = 0, bidirectional: bool = True
) -> RNNConfig:
    return RNNConfig(cell=cell, vocab_size=vocab, n_features=features, embedding_dim=8,
                     hidden_size=6, num_layers=2, bidirectional=bidirectional, dropout=0.0,
                     n_outputs=3)  # fmt: skip


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_padding_does_not_change_a_rows_scores(cell: str) -> None:
    torch.manual_seed(0)
    network = RNN(_config(cell)).eval()
    ids, lengths, alone = padded_pair(vocab=50, steps=9, real=4)
    batch = network(ids, lengths)
    assert batch.shape == (2, 3)
    assert torch.allclose(batch[1], network(alone, torch.tensor([4]))[0], atol=1e-5)


def test_feature_sequences_are_read_without_an_embedding() -> None:
    network = RNN(_config("gru", vocab=0, features=5, bidirectional=False)).eval()
    assert network.embedding is None
    assert network(torch.randn(2, 7, 5), torch.tensor([7, 3])).shape == (2, 3)

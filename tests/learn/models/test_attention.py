"""The transformer encoder: a padded row scores as it does unpadded (padding is masked out
of attention and pooling), and a sequence longer than the model's is refused."""

from __future__ import annotations

import pytest
import torch

from aimaas.learn.models.attention import Transformer, TransformerConfig
from tests.learn.models.padding import padded_pair


def _config(positional: str) -> TransformerConfig:
    return TransformerConfig(vocab_size=40, n_features=0, d_model=16, num_heads=4, num_layers=2,
                             dim_feedforward=32, dropout=0.0, max_length=12,
                             positional_encoding=positional, n_outputs=3)  # fmt: skip


@pytest.mark.parametrize("positional", ["sinusoidal", "learned"])
def test_padding_does_not_change_a_rows_scores(positional: str) -> None:
    torch.manual_seed(0)
    network = Transformer(_config(positional)).eval()
    ids, lengths, alone = padded_pair(vocab=40, steps=10, real=3)
    batch = network(ids, lengths)
    assert batch.shape == (2, 3)
    assert torch.allclose(batch[1], network(alone, torch.tensor([3]))[0], atol=1e-5)


def test_a_sequence_longer_than_the_model_is_refused() -> None:
    network = Transformer(_config("learned")).eval()
    with pytest.raises(ValueError, match="longer than 12"):
        network(torch.ones(1, 13, dtype=torch.int64), torch.tensor([13]))

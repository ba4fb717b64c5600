"""Word2vec, skip-gram with negative sampling (Mikolov et al. 2013, "Distributed
Representations of Words and Phrases and their Compositionality").

Each word has a center vector v and a context vector u. For a (center c, context o) pair
seen in the text and k "negative" words n_i drawn from the unigram distribution raised to
the 3/4 power, the loss is

    -log sigmoid(u_o · v_c) - Σ_i log sigmoid(-u_{n_i} · v_c)

so words that appear in the same contexts end up with similar center vectors. The
center vectors are the embeddings; a text is served as the mean of its words' vectors.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class Word2VecConfig:
    vocab_size: int
    embedding_dim: int


class SkipGram(nn.Module):
    def __init__(self, config: Word2VecConfig) -> None:
        super().__init__()
        self.center = nn.Embedding(config.vocab_size, config.embedding_dim)
        self.context = nn.Embedding(config.vocab_size, config.embedding_dim)
        bound = 0.5 / config.embedding_dim
        nn.init.uniform_(self.center.weight, -bound, bound)
        nn.init.zeros_(self.context.weight)

    def loss(self, center: Tensor, context: Tensor, negatives: Tensor) -> Tensor:
        """Mean loss over (B,) centers, (B,) contexts and (B, k) negative words."""
        v = self.center(center)  # (B, D)
        positive = (self.context(context) * v).sum(dim=1)  # (B,)
        negative = torch.bmm(self.context(negatives), v[:, :, None])[:, :, 0]  # (B, k)
        return -(F.logsigmoid(positive) + F.logsigmoid(-negative).sum(dim=1)).mean()

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Mean center vector of each row's first ``lengths`` ids: (B, T) -> (B, D)."""
        vectors: Tensor = self.center(x)  # (B, T, D)
        if lengths is None:
            return vectors.mean(dim=1)
        real = torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None]  # (B, T)
        weights = real.to(vectors.dtype)[:, :, None]  # (B, T, 1)
        return (vectors * weights).sum(dim=1) / weights.sum(dim=1)

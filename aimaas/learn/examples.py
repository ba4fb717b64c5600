"""Encoded training examples and the batches cut from them.

Every model reads a ``Batch``: ``inputs`` are floats (B, ...) or zero-padded token ids
(B, T) with ``lengths`` (B,) saying how many are real. Padding is per batch, up to the
longest item in it, and the models mask it out, so an item's output never depends on
the items it was batched with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from aimaas.learn.preprocessing import PAD


@dataclass(frozen=True)
class Batch:
    inputs: Tensor  # (B, ...) float32 features, (B, T) int64 token ids or (B, 2) id pairs
    lengths: Tensor | None  # (B,) real tokens per row, for padded token ids
    targets: Tensor | None  # (B,) int64 class ids or float32 standardized values


@dataclass(frozen=True)
class Examples:
    """N encoded examples: a float tensor (N, ...), or N token-id vectors to pad."""

    features: Tensor | None = None
    tokens: list[Tensor] | None = None
    targets: Tensor | None = None
    noise: Tensor | None = None  # word2vec: (V,) negative-sampling distribution

    def __len__(self) -> int:
        if self.tokens is not None:
            return len(self.tokens)
        assert self.features is not None
        return int(self.features.shape[0])

    def batch(self, indices: Tensor) -> Batch:
        targets = None if self.targets is None else self.targets[indices]
        if self.tokens is None:
            assert self.features is not None
            return Batch(inputs=self.features[indices], lengths=None, targets=targets)
        ids, lengths = pad([self.tokens[i] for i in indices.tolist()])
        return Batch(inputs=ids, lengths=lengths, targets=targets)


def pad(sequences: Sequence[Tensor | np.ndarray]) -> tuple[Tensor, Tensor]:
    """Token-id vectors to (B, T) padded with PAD, and their lengths (B,)."""
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.int64)
    ids = torch.full((len(sequences), int(lengths.max())), PAD, dtype=torch.int64)  # (B, T)
    for row, sequence in enumerate(sequences):
        ids[row, : len(sequence)] = torch.as_tensor(sequence)
    return ids, lengths


def skipgram_pairs(token_lists: Sequence[np.ndarray], window: int) -> Tensor:
    """(P, 2) (center, context) pairs: every word with each word at most ``window``
    positions away in the same text (Mikolov et al. 2013, "Distributed Representations
    of Words and Phrases and their Compositionality")."""
    pairs: list[np.ndarray] = []
    for ids in token_lists:
        for offset in range(1, window + 1):
            if len(ids) > offset:
                forward = np.stack([ids[:-offset], ids[offset:]], axis=1)  # (n - offset, 2)
                pairs += [forward, forward[:, ::-1]]
    if not pairs:
        return torch.empty((0, 2), dtype=torch.int64)
    return torch.from_numpy(np.ascontiguousarray(np.concatenate(pairs)))

"""Shared by the sequence models' tests: a batch of token ids whose second row is padded."""

from __future__ import annotations

import torch
from torch import Tensor

from aimaas.learn.preprocessing import SPECIALS

PAD = SPECIALS.index("<pad>")


def padded_pair(vocab: int, steps: int, real: int) -> tuple[Tensor, Tensor, Tensor]:
    """(2, steps) ids: row 0 full, row 1 with ``real`` ids then padding; their lengths; and
    row 1 alone, unpadded (1, real)."""
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(2, vocab, (2, steps), generator=generator)
    ids[1, real:] = PAD
    return ids, torch.tensor([steps, real]), ids[1:, :real]

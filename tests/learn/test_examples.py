"""examples.py: batches cut from features or token lists, padding to the longest item of a
batch, and skip-gram pairs within a window."""

from __future__ import annotations

import numpy as np
import torch

from aimaas.learn.examples import Examples, pad, skipgram_pairs
from aimaas.learn.preprocessing import PAD


def test_a_feature_batch_takes_the_rows_and_targets_asked_for() -> None:
    examples = Examples(features=torch.arange(12.0).view(6, 2), targets=torch.arange(6) * 10)
    assert len(examples) == 6
    batch = examples.batch(torch.tensor([4, 1]))
    assert batch.inputs.tolist() == [[8.0, 9.0], [2.0, 3.0]]
    assert batch.lengths is None
    assert batch.targets is not None and batch.targets.tolist() == [40, 10]
    assert Examples(features=torch.zeros(3, 1)).batch(torch.tensor([0])).targets is None


def test_a_token_batch_is_padded_to_its_own_longest_item() -> None:
    tokens = [torch.tensor([5, 6, 7]), torch.tensor([8]), torch.tensor([9, 9, 9, 9, 9])]
    examples = Examples(tokens=tokens, targets=torch.tensor([0, 1, 2]))
    assert len(examples) == 3
    batch = examples.batch(torch.tensor([1, 0]))
    assert batch.inputs.tolist() == [[8, PAD, PAD], [5, 6, 7]]  # 3 wide, not 5
    assert batch.lengths is not None and batch.lengths.tolist() == [1, 3]
    assert batch.targets is not None and batch.targets.tolist() == [1, 0]


def test_pad_takes_tensors_and_arrays() -> None:
    ids, lengths = pad([np.array([3, 4], dtype=np.int64), torch.tensor([1, 2, 3])])
    assert ids.dtype == torch.int64 and ids.tolist() == [[3, 4, PAD], [1, 2, 3]]
    assert lengths.tolist() == [2, 3]


def test_skipgram_pairs_go_both_ways_within_the_window() -> None:
    pairs = skipgram_pairs([np.array([1, 2, 3]), np.array([7])], window=2)
    assert pairs.dtype == torch.int64 and pairs.shape == (6, 2)
    assert sorted(map(tuple, pairs.tolist())) == [(1, 2), (1, 3), (2, 1), (2, 3), (3, 1), (3, 2)]
    one = skipgram_pairs([np.array([1, 2, 3])], window=1)
    assert sorted(map(tuple, one.tolist())) == [(1, 2), (2, 1), (2, 3), (3, 2)]


def test_texts_too_short_for_a_pair_give_none() -> None:
    pairs = skipgram_pairs([np.array([4]), np.array([], dtype=np.int64)], window=3)
    assert pairs.shape == (0, 2) and pairs.dtype == torch.int64

"""The MLP: (B, F) features to (B, outputs) scores, one hidden layer per size given."""

from __future__ import annotations

import torch
from torch import nn

from aimaas.learn.models.mlp import MLP, MLPConfig


def test_it_maps_features_to_one_score_per_output_through_each_hidden_size() -> None:
    network = MLP(MLPConfig(n_features=5, hidden_sizes=(8, 3), n_outputs=4, dropout=0.0))
    assert network(torch.zeros(7, 5)).shape == (7, 4)
    sizes = [m.out_features for m in network.modules() if isinstance(m, nn.Linear)]
    assert sizes == [8, 3, 4]


def test_dropout_is_off_in_eval_mode() -> None:
    torch.manual_seed(0)
    network = MLP(MLPConfig(n_features=5, hidden_sizes=(16,), n_outputs=2, dropout=0.5)).eval()
    x = torch.randn(4, 5)
    assert torch.equal(network(x), network(x))

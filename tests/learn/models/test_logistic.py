"""Logistic regression: K scores for K classes, two for two (the first fixed at zero, so the
softmax is the sigmoid of one linear function)."""

from __future__ import annotations

import torch

from aimaas.learn.models.logistic import LogisticConfig, LogisticRegression


def test_two_classes_are_a_sigmoid_of_one_score() -> None:
    network = LogisticRegression(LogisticConfig(n_features=3, n_classes=2))
    x = torch.randn(5, 3)
    scores = network(x)
    assert scores.shape == (5, 2) and torch.equal(scores[:, 0], torch.zeros(5))
    expected = torch.sigmoid(network.linear(x)[:, 0])
    assert torch.allclose(scores.softmax(dim=1)[:, 1], expected, atol=1e-6)


def test_k_classes_get_k_scores() -> None:
    network = LogisticRegression(LogisticConfig(n_features=3, n_classes=4))
    assert network(torch.randn(5, 3)).shape == (5, 4)
    assert network.penalized().shape == (4, 3)

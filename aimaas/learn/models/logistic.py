"""Logistic regression: class probabilities from one linear map of the features.

Binary: p(y=1|x) = sigmoid(x·w + b). Multinomial: p(y=k|x) = softmax(xW + b)_k. Both minimise
the mean cross-entropy plus (λ / 2N)·‖W‖², which is scikit-learn's objective
C·Σ loss + ½‖W‖² divided by C·N with λ = 1/C; the intercept is not penalized.

The binary model returns the logits [0, z]: softmax([0, z]) = [1 - sigmoid(z), sigmoid(z)], so one
cross-entropy serves both cases and the penalty stays on the single weight vector, as in
scikit-learn (two softmax weight vectors would halve its effective strength).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class LogisticConfig:
    n_features: int
    n_classes: int


class LogisticRegression(nn.Module):
    def __init__(self, config: LogisticConfig) -> None:
        super().__init__()
        self.binary = config.n_classes == 2
        self.linear = nn.Linear(config.n_features, 1 if self.binary else config.n_classes)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        z: Tensor = self.linear(x)  # (B, 1) binary, else (B, K)
        if self.binary:
            return torch.cat([torch.zeros_like(z), z], dim=1)  # (B, 2)
        return z

    def penalized(self) -> Tensor:
        return self.linear.weight

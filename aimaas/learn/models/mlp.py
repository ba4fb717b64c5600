"""A multilayer perceptron: the tabular baseline.

Each hidden layer is Linear -> ReLU -> Dropout; the head is one Linear to the class logits
(or to one standardized value for regression). Dropout (Srivastava et al. 2014) zeroes a
random fraction of activations while training, so no unit can rely on another one.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn


@dataclass(frozen=True)
class MLPConfig:
    n_features: int
    hidden_sizes: tuple[int, ...]
    n_outputs: int
    dropout: float


class MLP(nn.Module):
    def __init__(self, config: MLPConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = config.n_features
        for size in config.hidden_sizes:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(config.dropout)]
            width = size
        self.hidden = nn.Sequential(*layers)
        self.head = nn.Linear(width, config.n_outputs)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        h: Tensor = self.hidden(x)  # (B, F) -> (B, H)
        out: Tensor = self.head(h)  # (B, n_outputs)
        return out

"""Linear regression: y = x·w + b, fitted in closed form or by gradient descent.

On standardized features the ridge solution is

    w = (XᵀX + λI)⁻¹ Xᵀ(y - ȳ),    b = ȳ

(λ = 0 is ordinary least squares). We solve it as the least-squares problem
[X; √λ I] w ≈ [y - ȳ; 0], which stays stable when XᵀX is singular (duplicate or
constant columns get the minimum-norm solution instead of a crash).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class LinearConfig:
    n_features: int


class LinearRegression(nn.Module):
    def __init__(self, config: LinearConfig) -> None:
        super().__init__()
        self.linear = nn.Linear(config.n_features, 1)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        out: Tensor = self.linear(x)  # (B, F) -> (B, 1)
        return out

    def penalized(self) -> Tensor:
        """The weights an L2 penalty applies to (never the intercept)."""
        return self.linear.weight


def solve_normal_equation(x: Tensor, y: Tensor, l2: float) -> tuple[Tensor, Tensor]:
    """Ridge weights (F,) and intercept () for standardized ``x`` (N, F) and ``y`` (N,),
    computed in float64."""
    x, y = x.double(), y.double()
    intercept = y.mean()
    n_features = x.shape[1]
    design = torch.cat([x, (l2**0.5) * torch.eye(n_features, dtype=x.dtype)])  # (N + F, F)
    residual = torch.cat([y - intercept, torch.zeros(n_features, dtype=y.dtype)])  # (N + F,)
    solution = torch.linalg.lstsq(design, residual[:, None], driver="gelsd").solution
    return solution[:, 0], intercept

"""A convolutional network for small images (LeCun et al. 1998, "Gradient-based learning
applied to document recognition").

Each block is Conv(k x k, same padding) -> ReLU -> MaxPool(2): the convolution shares one
small filter over every position, so it finds a stroke wherever it is; pooling halves the
resolution, so later blocks see larger parts of the image. An adaptive average pool caps
the final grid at 4 x 4 before the dense head, so large images do not make it huge.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn


@dataclass(frozen=True)
class CNNConfig:
    in_channels: int
    height: int
    width: int
    channels: tuple[int, ...]
    kernel_size: int
    hidden_size: int
    n_outputs: int
    dropout: float


class ConvBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel_size: int, pool: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2)
        self.act = nn.ReLU()
        self.pool = nn.MaxPool2d(2) if pool else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.pool(self.act(self.conv(x)))  # (B, C_in, H, W) -> (B, C_out, H', W')
        return out


class CNN(nn.Module):
    def __init__(self, config: CNNConfig) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        c_in, h, w = config.in_channels, config.height, config.width
        for c_out in config.channels:
            pool = min(h, w) >= 2
            blocks.append(ConvBlock(c_in, c_out, config.kernel_size, pool))
            c_in, h, w = c_out, (h // 2 if pool else h), (w // 2 if pool else w)
        self.blocks = nn.Sequential(*blocks)
        h, w = min(h, 4), min(w, 4)
        self.grid = nn.AdaptiveAvgPool2d((h, w))
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c_in * h * w, config.hidden_size),
            nn.ReLU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.hidden_size, config.n_outputs),
        )

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        features: Tensor = self.grid(self.blocks(x))  # (B, C, H, W) -> (B, C', h, w)
        out: Tensor = self.head(features)  # (B, n_outputs)
        return out

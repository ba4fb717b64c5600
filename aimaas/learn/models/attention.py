"""A transformer encoder classifier (Vaswani et al. 2017, "Attention Is All You Need").

Self-attention lets every position look at every other one. For each head, with
queries Q, keys K and values V (B, T, d_k) projected from the input,

    Attention(Q, K, V) = softmax(QKᵀ / √d_k) V

the scaling keeps the dot products from saturating the softmax. Padding is masked out of
the keys (its score becomes -inf, its weight exactly 0), so padded tokens never change a
real one. Positions enter as a sinusoidal code PE(p, 2i) = sin(p / 10000^(2i/d)),
PE(p, 2i+1) = cos(p / 10000^(2i/d)), or as a learned embedding. Blocks are pre-norm
(x + Attn(LN(x)), then x + MLP(LN(x))), and the classifier reads the mean of the real
positions' final vectors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class TransformerConfig:
    vocab_size: int  # token-id inputs; 0 for feature sequences
    n_features: int  # features per step of a (B, T, F) input; 0 for token ids
    d_model: int
    num_heads: int
    num_layers: int
    dim_feedforward: int
    dropout: float
    max_length: int
    positional_encoding: str  # "sinusoidal" or "learned"
    n_outputs: int


class SelfAttention(nn.Module):
    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        if config.d_model % config.num_heads:
            raise ValueError("num_heads must divide d_model")
        self.heads = config.num_heads
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.out = nn.Linear(config.d_model, config.d_model)
        self.dropout = config.dropout

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)  # 3 x (B, T, C)
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))
        # softmax(QKᵀ/√d_k)V per head; mask (B, 1, 1, T) is True where a key is real
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0
        )  # (B, heads, T, d_k)
        y = y.transpose(1, 2).reshape(B, T, C)  # (B, T, C)
        out: Tensor = self.out(y)
        return out


class Block(nn.Module):
    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(config.d_model)
        self.attention = SelfAttention(config)
        self.norm2 = nn.LayerNorm(config.d_model)
        self.mlp = nn.Sequential(
            nn.Linear(config.d_model, config.dim_feedforward),
            nn.GELU(),
            nn.Linear(config.dim_feedforward, config.d_model),
        )
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        x = x + self.dropout(self.attention(self.norm1(x), mask))  # (B, T, C)
        x = x + self.dropout(self.mlp(self.norm2(x)))
        return x


def sinusoidal(length: int, width: int) -> Tensor:
    """(length, width) sinusoidal position codes."""
    position = torch.arange(length, dtype=torch.float32)[:, None]  # (T, 1)
    frequency = torch.exp(torch.arange(0, width, 2) * (-math.log(10000.0) / width))  # (⌈C/2⌉,)
    codes = torch.zeros(length, width)
    codes[:, 0::2] = torch.sin(position * frequency)
    codes[:, 1::2] = torch.cos(position * frequency)[:, : width // 2]
    return codes


class Transformer(nn.Module):
    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        if config.positional_encoding not in ("sinusoidal", "learned"):
            raise ValueError(f"unknown positional encoding {config.positional_encoding!r}")
        self.config = config
        self.embed: nn.Module = (
            nn.Embedding(config.vocab_size, config.d_model, padding_idx=0)
            if config.vocab_size
            else nn.Linear(config.n_features, config.d_model)
        )
        self.position = (
            nn.Embedding(config.max_length, config.d_model)
            if config.positional_encoding == "learned"
            else None
        )
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.num_layers))
        self.norm = nn.LayerNorm(config.d_model)
        self.head = nn.Linear(config.d_model, config.n_outputs)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        B, T = x.shape[0], x.shape[1]
        if self.config.max_length < T:
            raise ValueError(f"sequence of {T} steps is longer than {self.config.max_length}")
        h: Tensor = self.embed(x)  # (B, T) ids or (B, T, F) features -> (B, T, C)
        if self.position is not None:
            h = h + self.position(torch.arange(T, device=x.device))
        else:
            h = h + sinusoidal(T, self.config.d_model).to(h.device)
        h = self.dropout(h)
        real = torch.ones(B, T, dtype=torch.bool, device=x.device)  # (B, T)
        if lengths is not None:
            real = torch.arange(T, device=x.device)[None, :] < lengths.to(x.device)[:, None]
        mask = real[:, None, None, :] if lengths is not None else None  # (B, 1, 1, T)
        for block in self.blocks:
            h = block(h, mask)
        h = self.norm(h)
        weights = real.to(h.dtype)[:, :, None]  # (B, T, 1)
        pooled = (h * weights).sum(dim=1) / weights.sum(dim=1)  # (B, C), mean of real steps
        out: Tensor = self.head(pooled)  # (B, n_outputs)
        return out

"""Recurrent classifiers: LSTM (Hochreiter & Schmidhuber 1997) or GRU (Cho et al. 2014).

A recurrent cell reads a sequence one step at a time, carrying a hidden state h_t =
f(h_{t-1}, x_t); gates decide what to keep and what to forget, so the gradient survives
long sequences. The last hidden state summarizes the whole sequence and a linear head
turns it into class logits.

Text arrives as token ids, embedded into vectors first; tensor sequences (B, T, F) are fed
as they are. Padded batches are packed (``pack_padded_sequence``), so each row stops at
its own length and its final state never sees the padding.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence


@dataclass(frozen=True)
class RNNConfig:
    cell: str  # "lstm" or "gru"
    vocab_size: int  # token-id inputs; 0 for feature sequences
    n_features: int  # features per step of a (B, T, F) input; 0 for token ids
    embedding_dim: int
    hidden_size: int
    num_layers: int
    bidirectional: bool
    dropout: float
    n_outputs: int


class RNN(nn.Module):
    def __init__(self, config: RNNConfig) -> None:
        super().__init__()
        if config.cell not in ("lstm", "gru"):
            raise ValueError(f"unknown cell {config.cell!r}")
        self.embedding = (
            nn.Embedding(config.vocab_size, config.embedding_dim, padding_idx=0)
            if config.vocab_size
            else None
        )
        cell = nn.LSTM if config.cell == "lstm" else nn.GRU
        self.rnn = cell(
            config.embedding_dim if config.vocab_size else config.n_features,
            config.hidden_size,
            num_layers=config.num_layers,
            batch_first=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            bidirectional=config.bidirectional,
        )
        self.directions = 2 if config.bidirectional else 1
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(self.directions * config.hidden_size, config.n_outputs)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        if self.embedding is not None:
            x = self.embedding(x)  # (B, T) -> (B, T, E)
        batch = x.shape[0]
        sequence: Tensor | nn.utils.rnn.PackedSequence = x
        if lengths is not None:
            sequence = pack_padded_sequence(
                x, lengths.cpu(), batch_first=True, enforce_sorted=False
            )
        _, state = self.rnn(sequence)
        h_n = state[0] if isinstance(state, tuple) else state  # (layers * dirs, B, H)
        last = h_n[-self.directions :].transpose(0, 1).reshape(batch, -1)  # (B, dirs * H)
        out: Tensor = self.head(self.dropout(last))  # (B, n_outputs)
        return out

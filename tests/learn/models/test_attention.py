"""models/attention.py: the transformer reaches its bars on held-out digit rows and topic
texts; padding is masked out of attention and pooling, positions are sinusoidal or
learned, and configs it cannot build are refused."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
import torch

from aimaas.learn.models.attention import Transformer, TransformerConfig, sinusoidal
from tests.learn import accuracy, one_thread, served, trained


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


@pytest.mark.parametrize(
    ("name", "bar"), [("transformer-digits", 0.95), ("transformer-topics", 0.90)]
)
def test_held_out_accuracy_reaches_the_bar(name: str, bar: float) -> None:
    predictor, test = served(name)
    measured = accuracy(predictor, test)
    print(f"{name}: {measured:.4f} (bar {bar})")
    assert measured >= bar
    model, _ = trained(name)
    assert measured == pytest.approx(model.metrics["val_accuracy"], abs=1e-9)


def config(**changes: object) -> TransformerConfig:
    values: dict[str, object] = {
        "vocab_size": 12,
        "n_features": 0,
        "d_model": 8,
        "num_heads": 2,
        "num_layers": 2,
        "dim_feedforward": 16,
        "dropout": 0.0,
        "max_length": 6,
        "positional_encoding": "sinusoidal",
        "n_outputs": 3,
    }
    return TransformerConfig(**(values | changes))  # type: ignore[arg-type]


def test_sinusoidal_codes_follow_the_formula() -> None:
    codes = sinusoidal(5, 6)
    assert codes.shape == (5, 6)
    for p in range(5):
        for i in range(3):
            angle = p / 10000 ** (2 * i / 6)
            assert float(codes[p, 2 * i]) == pytest.approx(math.sin(angle), abs=1e-6)
            assert float(codes[p, 2 * i + 1]) == pytest.approx(math.cos(angle), abs=1e-6)
    assert sinusoidal(3, 5).shape == (3, 5)  # an odd width drops the last cosine


@pytest.mark.parametrize("positions", ["sinusoidal", "learned"])
def test_padding_does_not_change_a_real_rows_output(positions: str) -> None:
    torch.manual_seed(0)
    model = Transformer(config(positional_encoding=positions)).eval()
    assert (model.position is None) == (positions == "sinusoidal")
    alone = model(torch.tensor([[3, 5, 7]]), torch.tensor([3]))
    padded = model(torch.tensor([[3, 5, 7, 0, 0, 0], [1, 2, 3, 4, 5, 6]]), torch.tensor([3, 6]))
    assert padded.shape == (2, 3)
    assert torch.allclose(padded[0], alone[0], atol=1e-5)


def test_feature_sequences_go_through_a_linear_embedding() -> None:
    model = Transformer(config(vocab_size=0, n_features=4)).eval()
    assert isinstance(model.embed, torch.nn.Linear)
    assert model(torch.randn(2, 6, 4)).shape == (2, 3)


def test_a_sequence_longer_than_max_length_is_refused() -> None:
    model = Transformer(config()).eval()
    with pytest.raises(ValueError, match="sequence of 7 steps is longer than 6"):
        model(torch.ones(1, 7, dtype=torch.int64))


def test_configs_it_cannot_build_are_refused() -> None:
    with pytest.raises(ValueError, match="num_heads must divide d_model"):
        Transformer(config(num_heads=3))
    with pytest.raises(ValueError, match="unknown positional encoding 'rotary'"):
        Transformer(config(positional_encoding="rotary"))

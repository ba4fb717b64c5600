"""models/cnn.py: the CNN reaches its bar on held-out digits, served as a client sees it;
its blocks pool only while the grid is at least 2 x 2 and the head reads at most 4 x 4."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from torch import nn

from aimaas.learn.models.cnn import CNN, CNNConfig, ConvBlock
from tests.learn import accuracy, one_thread, served, trained


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


@pytest.mark.parametrize(("name", "bar"), [("cnn-digits", 0.97)])
def test_held_out_accuracy_reaches_the_bar(name: str, bar: float) -> None:
    predictor, test = served(name)
    measured = accuracy(predictor, test)
    print(f"{name}: {measured:.4f} (bar {bar})")
    assert measured >= bar
    model, _ = trained(name)
    assert measured == pytest.approx(model.metrics["val_accuracy"], abs=1e-9)


def config(height: int, width: int, channels: tuple[int, ...]) -> CNNConfig:
    return CNNConfig(
        in_channels=3,
        height=height,
        width=width,
        channels=channels,
        kernel_size=3,
        hidden_size=10,
        n_outputs=4,
        dropout=0.0,
    )


def test_each_block_halves_the_grid_until_it_is_too_small() -> None:
    model = CNN(config(5, 3, (4, 6, 8)))
    blocks = [block for block in model.blocks if isinstance(block, ConvBlock)]
    assert len(blocks) == 3
    pools = [isinstance(block.pool, nn.MaxPool2d) for block in blocks]
    assert pools == [True, False, False]  # 5 x 3 -> 2 x 1, then no more pooling
    assert [block.conv.out_channels for block in blocks] == [4, 6, 8]
    assert model.head[1].in_features == 8 * 2 * 1
    assert model(torch.randn(2, 3, 5, 3)).shape == (2, 4)


def test_a_large_image_is_averaged_down_to_four_by_four() -> None:
    model = CNN(config(64, 48, (4,)))
    assert model.head[1].in_features == 4 * 4 * 4
    assert model(torch.randn(1, 3, 64, 48)).shape == (1, 4)


def test_same_padding_keeps_the_size_for_odd_kernels() -> None:
    model = CNN(config(8, 8, (2,)))
    block = model.blocks[0]
    assert isinstance(block, ConvBlock)
    assert block.conv.padding == (1, 1)
    assert block(torch.randn(1, 3, 8, 8)).shape == (1, 2, 4, 4)

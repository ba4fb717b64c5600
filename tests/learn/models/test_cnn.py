"""The CNN: images of any size to one score per class; pooling stops at one pixel."""

from __future__ import annotations

import torch

from aimaas.learn.models.cnn import CNN, CNNConfig


def _config(height: int, width: int) -> CNNConfig:
    return CNNConfig(in_channels=1, height=height, width=width, channels=(4, 8, 8),
                     kernel_size=3, hidden_size=16, n_outputs=10, dropout=0.0)  # fmt: skip


def test_digits_and_large_images_give_one_score_per_class() -> None:
    for height, width in ((8, 8), (64, 48), (1, 1)):
        network = CNN(_config(height, width)).eval()
        assert network(torch.zeros(3, 1, height, width)).shape == (3, 10)


def test_a_batch_gives_each_image_what_it_gets_alone() -> None:
    torch.manual_seed(0)
    network = CNN(_config(8, 8)).eval()
    images = torch.randn(4, 1, 8, 8)
    alone = torch.cat([network(image[None]) for image in images])
    assert torch.allclose(network(images), alone, atol=1e-5)

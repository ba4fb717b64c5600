"""A tiny logistic regression trained here (x[0] > 0 -> "yes"), for the serving tests."""

from __future__ import annotations

import functools

import numpy as np

from aimaas.learn import artifacts, trainer
from aimaas.uploads.dataset import Dataset
from tests.learn import one_thread


@functools.cache
def logistic_files() -> tuple[bytes, bytes]:
    """(model.safetensors, model.json) of a classifier of three features into no/yes."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 3))
    y = np.where(x[:, 0] > 0, "yes", "no")
    dataset = Dataset("table", features=x, targets=y, feature_names=["a", "b", "c"])
    with one_thread():
        model = trainer.train(
            "logistic_regression", dataset, None, {"epochs": 30}, seed=0,
            checkpoint_dir=None, on_event=lambda _: None, should_stop=lambda: False,
        )  # fmt: skip
    return artifacts.save(model)

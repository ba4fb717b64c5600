"""A training or evaluation dataset in memory, the same shape whatever file it came from.

``aimaas.uploads.datasets`` reads uploaded files into this; the trainer and the evaluators read
only this. Labels stay raw (strings or numbers): encoding them is part of a model's
preprocessing, so the served model answers with the user's own labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

DatasetKind = Literal["table", "tensor", "text", "images"]


@dataclass(frozen=True)
class Dataset:
    """One of four shapes:

    - ``table``  (CSV):  ``features`` float64 [N, F], ``feature_names`` the F column names.
    - ``tensor`` (NPZ):  ``features`` float32 [N, ...] (e.g. [N, 8, 8] for digits).
    - ``images`` (zip):  ``features`` uint8 [N, H, W, C], C 1 (grey) or 3 (RGB).
    - ``text``   (JSONL): ``texts`` N strings.

    ``targets`` is [N] raw labels or regression targets, or None for an unlabelled set
    (a word2vec corpus). ``target_name`` is the CSV column it came from.
    """

    kind: DatasetKind
    features: np.ndarray | None = None
    texts: list[str] | None = None
    targets: np.ndarray | None = None
    feature_names: list[str] | None = None
    target_name: str | None = None

    def __len__(self) -> int:
        if self.texts is not None:
            return len(self.texts)
        assert self.features is not None
        return int(self.features.shape[0])

    def columns(self, wanted: list[str]) -> np.ndarray:
        """A table's features, the columns named ``wanted`` in that order (each one present)."""
        assert self.features is not None and self.feature_names is not None
        position = {name: i for i, name in enumerate(self.feature_names)}
        return self.features[:, [position[name] for name in wanted]]

    def subset(self, indices: np.ndarray) -> Dataset:
        """The rows at ``indices``, in that order."""
        return Dataset(
            kind=self.kind,
            features=None if self.features is None else self.features[indices],
            texts=None if self.texts is None else [self.texts[i] for i in indices.tolist()],
            targets=None if self.targets is None else self.targets[indices],
            feature_names=self.feature_names,
            target_name=self.target_name,
        )


def split(dataset: Dataset, fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """(train, validation): a random ``fraction`` of the rows (at least one) held out,
    the same rows for the same seed. ValueError unless both parts are non-empty."""
    n = len(dataset)
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be between 0 and 1, not {fraction}")
    held_out = max(1, round(n * fraction))
    if held_out >= n:
        raise ValueError(f"{n} rows are too few to hold out {fraction:.0%} and keep some")
    order = np.random.default_rng(seed).permutation(n)
    return dataset.subset(np.sort(order[held_out:])), dataset.subset(np.sort(order[:held_out]))

"""How a model reads its data: from a Dataset (training) or from request items (serving)
to tensors, through the same code both times.

A model's ``Encoding`` is fitted on the training set and saved in its spec. Its
``layout`` says what the network reads:

- ``flat``:     (B, F) standardized features (linear, logistic, mlp; tensors are flattened)
- ``grid``:     (B, C, H, W) (cnn; images scaled to 0..1, tensors standardized)
- ``sequence``: (B, T, F) standardized steps (rnn, transformer on tensors)
- ``tokens``:   (B, T) padded token ids (rnn, transformer, word2vec on text)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from aimaas.errors import InvalidInput
from aimaas.learn.examples import Examples, skipgram_pairs
from aimaas.learn.preprocessing import (
    MAX_CLASSES,
    LabelEncoder,
    Standardizer,
    TargetScaler,
    Tokenizer,
    numeric_targets,
    spec_check,
)
from aimaas.learn.servable import Task
from aimaas.uploads.dataset import Dataset, DatasetKind
from aimaas.uploads.images import ImageMode

Layout = Literal["flat", "grid", "sequence", "tokens"]
KINDS: tuple[DatasetKind, ...] = ("table", "tensor", "images", "text")
LAYOUTS: tuple[Layout, ...] = ("flat", "grid", "sequence", "tokens")
PIXELS = Standardizer(mean=np.asarray(0.0), std=np.asarray(255.0))


@dataclass(frozen=True)
class Encoding:
    kind: DatasetKind
    layout: Layout
    item_shape: tuple[int, ...]  # one raw item: (F,), a tensor item, (H, W, C); () for text
    feature_names: list[str] | None = None
    scaler: Standardizer | None = None
    tokenizer: Tokenizer | None = None
    labels: LabelEncoder | None = None
    target: TargetScaler | None = None

    @property
    def image_mode(self) -> ImageMode:
        return "L" if self.item_shape[-1] == 1 else "RGB"

    def features(self, raw: np.ndarray) -> Tensor:
        """Raw items (N, *item_shape) to the network's float32 input."""
        assert self.scaler is not None
        n = raw.shape[0]
        if self.layout == "flat":
            return torch.from_numpy(self.scaler.transform(raw.reshape(n, -1)))  # (N, F)
        values = torch.from_numpy(self.scaler.transform(raw))
        if self.kind == "images":
            return values.permute(0, 3, 1, 2).contiguous()  # (N, H, W, C) -> (N, C, H, W)
        if self.layout == "grid" and values.dim() == 3:
            return values[:, None]  # (N, H, W) -> (N, 1, H, W)
        if self.layout == "sequence" and values.dim() == 2:
            return values[:, :, None]  # (N, T) -> (N, T, 1)
        return values

    def tokens(self, text: str, *, known_only: bool = False) -> np.ndarray:
        assert self.tokenizer is not None
        return self.tokenizer.encode(text, known_only=known_only)

    def examples(self, dataset: Dataset, task: Task, *, param: str, window: int = 0) -> Examples:
        """``dataset`` encoded for training; ``window`` > 0 makes word2vec pairs."""
        if self.kind != dataset.kind or (
            dataset.features is not None and tuple(dataset.features.shape[1:]) != self.item_shape
        ):
            shape = None if dataset.features is None else list(dataset.features.shape[1:])
            raise InvalidInput(
                f"{dataset.kind} items of shape {shape} do not match the training data "
                f"({self.kind} items of shape {list(self.item_shape)}).",
                param=param,
            )
        targets = self._targets(dataset.targets, task, param=param)
        if dataset.kind != "text":
            features = self._columns(dataset, param=param)
            return Examples(features=self.features(features), targets=targets)
        assert dataset.texts is not None
        if window:
            lists = [self.tokens(text, known_only=True) for text in dataset.texts]
            assert self.tokenizer is not None
            counts = self.tokenizer.counts(lists) ** 0.75  # Mikolov et al.'s noise distribution
            return Examples(
                features=skipgram_pairs(lists, window),
                noise=torch.from_numpy(counts / max(counts.sum(), 1.0)).float(),
            )
        return Examples(
            tokens=[torch.from_numpy(self.tokens(text)) for text in dataset.texts],
            targets=targets,
        )

    def _columns(self, dataset: Dataset, *, param: str) -> np.ndarray:
        """The features, with a table's columns in the training data's order."""
        assert dataset.features is not None
        names, wanted = dataset.feature_names, self.feature_names
        if not names or not wanted or names == wanted:
            return dataset.features
        if set(names) != set(wanted):
            missing = sorted(set(wanted) - set(names))
            unknown = sorted(set(names) - set(wanted))
            raise InvalidInput(
                f"The columns differ from the training data's: missing {missing}, "
                f"unknown {unknown}.",
                param=param,
            )
        return dataset.columns(wanted)

    def _targets(self, targets: np.ndarray | None, task: Task, *, param: str) -> Tensor | None:
        if targets is None or task == "embedding":
            return None
        if self.labels is not None:
            return torch.from_numpy(self.labels.encode(targets, param=param))
        assert self.target is not None
        values = numeric_targets(targets)
        if values is None:
            raise InvalidInput("Regression targets must all be numbers.", param=param)
        return torch.from_numpy(self.target.transform(values))

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "layout": self.layout,
            "item_shape": list(self.item_shape),
            "feature_names": self.feature_names,
            "standardize": None if self.scaler is None else self.scaler.to_json(),
            "tokenizer": None if self.tokenizer is None else self.tokenizer.to_json(),
            "target": None if self.target is None else vars(self.target),
        }

    @classmethod
    def from_json(cls, data: Any, labels: Any) -> Encoding:
        spec_check(isinstance(data, dict), "preprocessing")
        kind, layout, shape = data.get("kind"), data.get("layout"), data.get("item_shape")
        spec_check(kind in KINDS and layout in LAYOUTS, "preprocessing kind or layout")
        spec_check(isinstance(shape, list) and len(shape) <= 4, "preprocessing.item_shape")
        spec_check(
            all(
                isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 1 << 24 for d in shape
            ),
            "item_shape",
        )
        names = data.get("feature_names")
        size = math.prod(shape)
        spec_check(
            names is None
            or (
                isinstance(names, list)
                and len(names) == size
                and all(isinstance(name, str) for name in names)
            ),
            "preprocessing.feature_names",
        )
        text = kind == "text"
        spec_check(
            text == (layout == "tokens") and text == (data.get("tokenizer") is not None), "layout"
        )
        scaler = data.get("standardize")
        return cls(
            kind=kind,
            layout=layout,
            item_shape=tuple(shape),
            feature_names=names,
            scaler=None
            if kind == "text"
            else Standardizer.from_json(scaler, size if layout == "flat" else None),
            tokenizer=None if kind != "text" else Tokenizer.from_json(data["tokenizer"]),
            labels=None if labels is None else LabelEncoder.from_json(labels),
            target=None if data.get("target") is None else TargetScaler.from_json(data["target"]),
        )


def fit(
    dataset: Dataset,
    *,
    layout: Layout,
    task: Task,
    max_vocab: int = 0,
    min_count: int = 1,
    max_length: int = 1,
) -> Encoding:
    """The encoding of ``dataset``'s kind for ``layout``, fitted on ``dataset``."""
    labels = target = None
    if task == "classification":
        assert dataset.targets is not None
        labels = LabelEncoder.fit(dataset.targets)
        if len(labels.classes) > MAX_CLASSES:
            raise InvalidInput(
                f"{len(labels.classes)} classes is more than {MAX_CLASSES}; to predict a "
                'number, set "task": "regression".',
                param="hyperparameters.task",
            )
    elif task == "regression":
        assert dataset.targets is not None
        values = numeric_targets(dataset.targets)
        if values is None:
            raise InvalidInput(
                "Regression targets must all be numbers; for labels use a classifier "
                'or set "task": "classification".',
                param="hyperparameters.task",
            )
        target = TargetScaler.fit(values)
    if dataset.kind == "text":
        assert dataset.texts is not None
        tokenizer = Tokenizer.fit(
            dataset.texts, max_vocab=max_vocab, min_count=min_count, max_length=max_length
        )
        return Encoding(
            kind="text",
            layout="tokens",
            item_shape=(),
            tokenizer=tokenizer,
            labels=labels,
            target=target,
        )
    assert dataset.features is not None
    raw = dataset.features
    if dataset.kind == "images":
        scaler = PIXELS
    else:
        scaler = Standardizer.fit(
            raw.reshape(raw.shape[0], -1) if layout == "flat" else raw,
            per_feature=layout == "flat",
        )
    return Encoding(
        kind=dataset.kind,
        layout=layout,
        item_shape=tuple(int(d) for d in raw.shape[1:]),
        feature_names=list(dataset.feature_names) if dataset.feature_names else None,
        scaler=scaler,
        labels=labels,
        target=target,
    )

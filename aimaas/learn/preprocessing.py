"""Preprocessing that travels with a model: fitted on the training set, saved in the spec,
applied the same way in training and in serving.

- ``Standardizer``: (x - mean) / std, per feature for tables, one scalar for grids and
  sequences, 0 / 255 for image pixels.
- ``LabelEncoder``: class labels in sorted order; output ``k`` means ``classes[k]``.
- ``TargetScaler``: regression targets standardized for training, restored for answers.
- ``Tokenizer``: lowercase, split into runs of word characters, keep the ``max_vocab`` most
  frequent words seen at least ``min_count`` times. Id 0 pads, id 1 is any unknown word.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aimaas.errors import InvalidInput

Label = int | float | str
PAD, UNKNOWN = 0, 1
SPECIALS = ["<pad>", "<unk>"]
WORDS = re.compile(r"\w+")  # the only pattern; the spec names it, never carries it
TOKEN_PATTERN = "words-v1"
MAX_CLASSES = 10_000


@dataclass(frozen=True)
class Standardizer:
    mean: np.ndarray  # float64, [F] or [] (one scalar for every value)
    std: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray, *, per_feature: bool) -> Standardizer:
        values = values.astype(np.float64, copy=False)
        axis = 0 if per_feature else None
        mean, std = np.asarray(values.mean(axis=axis)), np.asarray(values.std(axis=axis))
        return cls(mean=mean, std=np.where(std > 0, std, 1.0))  # constant columns stay 0

    def transform(self, values: np.ndarray) -> np.ndarray:
        scaled = (values.astype(np.float64, copy=False) - self.mean) / self.std
        return np.asarray(scaled, dtype=np.float32)

    def to_json(self) -> dict[str, Any]:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_json(cls, data: Any, size: int | None) -> Standardizer:
        spec_check(isinstance(data, dict) and set(data) == {"mean", "std"}, "standardize")
        mean = np.asarray(data["mean"], dtype=np.float64)
        std = np.asarray(data["std"], dtype=np.float64)
        expected: tuple[int, ...] = () if size is None else (size,)
        spec_check(mean.shape == std.shape == expected, "standardize shapes")
        spec_check(bool(np.isfinite(mean).all() and (std > 0).all()), "standardize values")
        return cls(mean=mean, std=std)


@dataclass(frozen=True)
class TargetScaler:
    mean: float
    std: float

    @classmethod
    def fit(cls, targets: np.ndarray) -> TargetScaler:
        std = float(targets.std())
        return cls(mean=float(targets.mean()), std=std if std > 0 else 1.0)

    def transform(self, targets: np.ndarray) -> np.ndarray:
        return ((targets - self.mean) / self.std).astype(np.float32)

    def restore(self, values: np.ndarray) -> np.ndarray:
        return (values.astype(np.float64) * self.std + self.mean).astype(np.float32)

    @classmethod
    def from_json(cls, data: Any) -> TargetScaler:
        spec_check(isinstance(data, dict) and set(data) == {"mean", "std"}, "target")
        mean, std = data["mean"], data["std"]
        spec_check(_is_number(mean) and _is_number(std) and std > 0, "target values")
        return cls(mean=float(mean), std=float(std))


@dataclass(frozen=True)
class LabelEncoder:
    classes: list[Label]
    index: dict[Label, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", {label: k for k, label in enumerate(self.classes)})

    @classmethod
    def fit(cls, targets: np.ndarray) -> LabelEncoder:
        return cls(classes=sorted_labels(normalize_labels(targets)))

    def encode(self, targets: np.ndarray, *, param: str) -> np.ndarray:
        labels = normalize_labels(targets)
        if self.classes and isinstance(self.classes[0], str):
            labels = [str(label) for label in labels]
        ids = np.empty(len(labels), dtype=np.int64)
        for row, label in enumerate(labels):
            k = self.index.get(label)
            if k is None:
                raise InvalidInput(
                    f"Row {row} has label {label!r}, which the training data never has; "
                    f"known labels: {_preview(self.classes)}.",
                    param=param,
                )
            ids[row] = k
        return ids

    @property
    def integer(self) -> bool:
        return all(isinstance(label, int) for label in self.classes)

    @classmethod
    def from_json(cls, data: Any) -> LabelEncoder:
        spec_check(isinstance(data, list) and len(data) >= 2, "labels")
        spec_check(all(isinstance(x, str) or _is_number(x) for x in data), "labels")
        spec_check(len(set(data)) == len(data), "labels are not unique")
        return cls(classes=list(data))


@dataclass(frozen=True)
class Tokenizer:
    vocabulary: list[str]  # id -> word; ids 0 and 1 are SPECIALS
    max_length: int
    index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", {word: i for i, word in enumerate(self.vocabulary)})

    @staticmethod
    def words(text: str) -> list[str]:
        return WORDS.findall(text.lower())

    @classmethod
    def fit(
        cls, texts: Iterable[str], *, max_vocab: int, min_count: int, max_length: int
    ) -> Tokenizer:
        counts = Counter(word for text in texts for word in cls.words(text))
        kept = sorted(
            (w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w)
        )
        return cls(vocabulary=SPECIALS + kept[:max_vocab], max_length=max_length)

    def encode(self, text: str, *, known_only: bool = False) -> np.ndarray:
        """int64 token ids, at most ``max_length``. Unknown words become UNKNOWN, or are
        dropped with ``known_only``; a text without words is [UNKNOWN] unless known_only."""
        ids = [self.index.get(word, UNKNOWN) for word in self.words(text)]
        if known_only:
            ids = [i for i in ids if i != UNKNOWN]
        elif not ids:
            ids = [UNKNOWN]
        return np.asarray(ids[: self.max_length], dtype=np.int64)

    def counts(self, token_lists: Sequence[np.ndarray]) -> np.ndarray:
        counts = np.zeros(len(self.vocabulary), dtype=np.float64)
        for ids in token_lists:
            np.add.at(counts, ids, 1.0)
        return counts

    def to_json(self) -> dict[str, Any]:
        return {
            "pattern": TOKEN_PATTERN,
            "lowercase": True,
            "max_length": self.max_length,
            "vocabulary": self.vocabulary,
        }

    @classmethod
    def from_json(cls, data: Any) -> Tokenizer:
        spec_check(isinstance(data, dict), "tokenizer")
        spec_check(
            data.get("pattern") == TOKEN_PATTERN and data.get("lowercase") is True, "tokenizer"
        )
        vocabulary, max_length = data.get("vocabulary"), data.get("max_length")
        spec_check(isinstance(max_length, int) and max_length >= 1, "tokenizer.max_length")
        spec_check(isinstance(vocabulary, list) and vocabulary[:2] == SPECIALS, "vocabulary")
        assert isinstance(vocabulary, list) and isinstance(max_length, int)
        spec_check(all(isinstance(w, str) for w in vocabulary), "vocabulary")
        spec_check(len(set(vocabulary)) == len(vocabulary), "vocabulary has duplicates")
        return cls(vocabulary=vocabulary, max_length=max_length)


def normalize_labels(targets: np.ndarray) -> list[Label]:
    """JSON-safe labels: integral numbers become int, other numbers float, everything else
    (bools included) its string; a mix of numbers and strings becomes all strings."""
    labels: list[Label] = []
    for value in targets.tolist():
        if _is_number(value):
            labels.append(int(value) if float(value).is_integer() else float(value))
        else:
            labels.append(str(value))
    if any(isinstance(x, str) for x in labels) and not all(isinstance(x, str) for x in labels):
        labels = [str(x) for x in labels]
    return labels


def sorted_labels(labels: Iterable[Label]) -> list[Label]:
    return sorted(set(labels), key=lambda x: (isinstance(x, str), x))  # all str or all numbers


def numeric_targets(targets: np.ndarray) -> np.ndarray | None:
    """float64 targets, or None when some target is not a real number."""
    if targets.dtype.kind in "iuf":
        return targets.astype(np.float64)
    values = targets.tolist()
    if all(_is_number(v) for v in values):
        return np.asarray(values, dtype=np.float64)
    return None


def missing_rows(targets: np.ndarray) -> list[int]:
    """Rows whose target is None, NaN or an empty string."""
    return [
        row
        for row, value in enumerate(targets.tolist())
        if value is None
        or (isinstance(value, float) and math.isnan(value))
        or (isinstance(value, str) and not value.strip())
    ]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _preview(labels: list[Label], limit: int = 10) -> str:
    shown = ", ".join(repr(x) for x in labels[:limit])
    return shown + (f", ... ({len(labels)} in all)" if len(labels) > limit else "")


def spec_check(condition: bool, what: str) -> None:
    if not condition:
        raise ValueError(f"model spec: invalid {what}")

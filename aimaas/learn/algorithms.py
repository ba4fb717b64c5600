"""The algorithms a user can train: what each reads, what it learns, and checking a dataset
against them before a job is queued.

Every problem ``check_dataset`` can find is reported as ``InvalidInput`` naming the file
parameter and saying what to change, so a bad upload fails at once instead of minutes
into a training job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel

from aimaas.errors import InvalidInput
from aimaas.learn import hyperparameters as hp
from aimaas.learn.encoding import Layout
from aimaas.learn.preprocessing import (
    MAX_CLASSES,
    Tokenizer,
    missing_rows,
    normalize_labels,
    numeric_targets,
)
from aimaas.learn.servable import Task
from aimaas.uploads.dataset import Dataset, DatasetKind


@dataclass(frozen=True)
class Algorithm:
    name: str
    summary: str
    hyperparameters: type[BaseModel]
    kinds: tuple[DatasetKind, ...]  # dataset kinds it trains on
    tasks: tuple[Task, ...]  # what it can learn; several means the "task" hyperparameter picks
    needs_targets: bool


ALGORITHMS: dict[str, Algorithm] = {
    a.name: a
    for a in [
        Algorithm(
            "linear_regression",
            "Least squares on standardized features, closed form or gradient descent.",
            hp.LinearRegressionHyperparameters,
            ("table", "tensor"),
            ("regression",),
            True,
        ),
        Algorithm(
            "logistic_regression",
            "Binary or multinomial logistic regression with L2, fitted by L-BFGS.",
            hp.LogisticRegressionHyperparameters,
            ("table", "tensor"),
            ("classification",),
            True,
        ),
        Algorithm(
            "mlp",
            "A multilayer perceptron with dropout: the tabular baseline.",
            hp.MLPHyperparameters,
            ("table", "tensor"),
            ("classification", "regression"),
            True,
        ),
        Algorithm(
            "cnn",
            "A convolutional network for images and [N, H, W] / [N, C, H, W] tensors.",
            hp.CNNHyperparameters,
            ("images", "tensor"),
            ("classification", "regression"),
            True,
        ),
        Algorithm(
            "rnn",
            "An LSTM or GRU over text tokens or [N, T, F] tensor sequences.",
            hp.RNNHyperparameters,
            ("text", "tensor"),
            ("classification", "regression"),
            True,
        ),
        Algorithm(
            "transformer",
            "A self-attention encoder over text tokens or [N, T, F] tensor sequences.",
            hp.TransformerHyperparameters,
            ("text", "tensor"),
            ("classification", "regression"),
            True,
        ),
        Algorithm(
            "word2vec",
            "Skip-gram word vectors with negative sampling; serves text embeddings.",
            hp.Word2VecHyperparameters,
            ("text",),
            ("embedding",),
            False,
        ),
    ]
}

AUTO_MAX_CLASSES = 100
_TENSOR_RANKS = {"cnn": (3, 4), "rnn": (2, 3), "transformer": (2, 3)}  # with the N axis


def get(algorithm: str) -> Algorithm:
    found = ALGORITHMS.get(algorithm)
    if found is None:
        raise InvalidInput(
            f"Unknown algorithm {algorithm!r}; use one of: {', '.join(ALGORITHMS)}.",
            param="algorithm",
        )
    return found


def layout(algorithm: str, kind: DatasetKind) -> Layout:
    if kind == "text":
        return "tokens"
    if algorithm == "cnn":
        return "grid"
    return "sequence" if algorithm in ("rnn", "transformer") else "flat"


def resolve_task(algorithm: str, hyperparameters: BaseModel, targets: np.ndarray | None) -> Task:
    """The algorithm's task; for "auto": regression when the targets are numbers that are
    not all integers, or integers with more than AUTO_MAX_CLASSES different values (a
    quantity such as a price, not a class); classification otherwise."""
    tasks = get(algorithm).tasks
    choice = getattr(hyperparameters, "task", "auto")
    if len(tasks) == 1:
        return tasks[0]
    if choice in tasks:
        task: Task = choice
        return task
    assert targets is not None
    values = numeric_targets(targets)
    if values is not None and (
        not np.all(values == np.round(values)) or len(np.unique(values)) > AUTO_MAX_CLASSES
    ):
        return "regression"
    return "classification"


def check_dataset(
    algorithm: str, dataset: Dataset, *, param: str = "training_file", validation: bool = False
) -> None:
    """Raise InvalidInput(param=param) unless ``algorithm`` can train on ``dataset`` (or,
    with ``validation``, be validated on it: one row and one class are enough there, as a
    small random hold-out often has)."""
    spec = get(algorithm)
    if dataset.kind not in spec.kinds:
        raise InvalidInput(
            f"{algorithm} trains on {' or '.join(spec.kinds)} data; this file is "
            f"{dataset.kind} data. Pick an algorithm for {dataset.kind} data.",
            param=param,
        )
    least = 1 if validation else 2
    if len(dataset) < least:
        raise InvalidInput(
            f"{algorithm} needs at least {least} rows; found {len(dataset)}.", param=param
        )
    if dataset.kind == "text":
        _check_texts(algorithm, dataset, param)
    else:
        _check_features(algorithm, dataset, param)
    if spec.needs_targets:
        _check_targets(algorithm, spec, dataset, param, least_classes=1 if validation else 2)


def _check_texts(algorithm: str, dataset: Dataset, param: str) -> None:
    texts = dataset.texts
    if texts is None or not all(isinstance(text, str) for text in texts):
        raise InvalidInput("Every text must be a string.", param=param)
    words = {word for text in texts for word in Tokenizer.words(text)}
    needed = 2 if algorithm == "word2vec" else 1
    if len(words) < needed:
        raise InvalidInput(
            f"{algorithm} needs texts with at least {needed} different words; found {len(words)}.",
            param=param,
        )


def _check_features(algorithm: str, dataset: Dataset, param: str) -> None:
    features = dataset.features
    if features is None or features.ndim < 2 or 0 in features.shape:
        raise InvalidInput(f"{dataset.kind} data has no features.", param=param)
    if dataset.kind == "images":
        if features.dtype != np.uint8 or features.ndim != 4 or features.shape[3] not in (1, 3):
            raise InvalidInput("Images must be uint8 [N, H, W, C] with C 1 or 3.", param=param)
        return
    if features.dtype.kind not in "iuf":
        raise InvalidInput(f"Features must be numbers, not {features.dtype}.", param=param)
    bad = np.flatnonzero(~np.isfinite(features.reshape(features.shape[0], -1)).all(axis=1))
    if bad.size:
        raise InvalidInput(
            f"Row {int(bad[0])} has a missing or infinite feature ({bad.size} rows in all); "
            "fill or drop those rows.",
            param=param,
        )
    ranks = _TENSOR_RANKS.get(algorithm)
    if dataset.kind == "tensor" and ranks and features.ndim not in ranks:
        shapes = " or ".join(
            {2: "[N, T]", 3: "[N, T, F]" if algorithm != "cnn" else "[N, H, W]", 4: "[N, C, H, W]"}[
                r
            ]
            for r in ranks
        )
        raise InvalidInput(
            f"{algorithm} reads tensors shaped {shapes}; this one is {list(features.shape)}.",
            param=param,
        )


def _check_targets(
    algorithm: str, spec: Algorithm, dataset: Dataset, param: str, *, least_classes: int
) -> None:
    targets = dataset.targets
    if targets is None:
        raise InvalidInput(
            f"{algorithm} learns from labelled examples; this file has no targets.", param=param
        )
    if targets.ndim != 1 or len(targets) != len(dataset):
        raise InvalidInput(
            f"Expected one target per row ({len(dataset)}); found shape {list(targets.shape)}.",
            param=param,
        )
    missing = missing_rows(targets)
    if missing:
        raise InvalidInput(
            f"Row {missing[0]} has no target ({len(missing)} rows in all); label or drop them.",
            param=param,
        )
    if spec.tasks == ("regression",) and numeric_targets(targets) is None:
        raise InvalidInput(f"{algorithm} needs numeric targets.", param=param)
    distinct = len(set(normalize_labels(targets)))
    if distinct < least_classes:
        raise InvalidInput(
            f"{algorithm} needs at least 2 different target values; every row has the same one.",
            param=param,
        )
    if spec.tasks == ("classification",) and distinct > MAX_CLASSES:
        raise InvalidInput(
            f"{distinct} classes is more than {MAX_CLASSES}; are the targets numbers to predict?",
            param=param,
        )


def describe() -> list[dict[str, Any]]:
    """The catalogue, JSON-safe, with each algorithm's hyperparameter schema."""
    return [
        {
            "name": a.name,
            "summary": a.summary,
            "kinds": list(a.kinds),
            "tasks": list(a.tasks),
            "needs_targets": a.needs_targets,
            "hyperparameters": a.hyperparameters.model_json_schema(),
        }
        for a in ALGORITHMS.values()
    ]

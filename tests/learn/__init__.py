"""Shared data builders for the learn tests: scikit-learn's bundled datasets in our Dataset
shapes, and small generated text tasks whose answers are known."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load, save
from sklearn.datasets import load_breast_cancer, load_digits, load_iris  # type: ignore[import-untyped]
from sklearn.model_selection import train_test_split  # type: ignore[import-untyped]

from aimaas.learn import artifacts, trainer
from aimaas.learn.servable import Predictor, TrainedModel
from aimaas.uploads.dataset import Dataset

TOPICS = {
    "sports": "goal match team score player coach league referee stadium season ball win",
    "food": "pasta sauce bread cheese oven recipe spice soup salad butter garlic bake",
    "tech": "laptop server code network chip software cloud battery screen data kernel app",
}
FILLER = [
    "the",
    "a",
    "is",
    "was",
    "very",
    "really",
    "and",
    "of",
    "to",
    "in",
    "it",
    "this",
    "that",
    "my",
    "our",
]


@contextmanager
def one_thread() -> Iterator[None]:
    """Torch on one thread: the tests stay fast on a busy 2-core machine (spinning
    OpenMP threads slow each other down many times over) and results do not depend on
    the thread count."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def no_events(event: dict[str, Any]) -> None:
    pass


def never() -> bool:
    return False


def digits(kind: str) -> tuple[Dataset, Dataset]:
    """load_digits as ``images`` (uint8 [N, 8, 8, 1], 0..16 scaled to 0..255) or as
    ``tensor`` sequences [N, 8, 8] (8 steps of 8 pixels); a stratified 75/25 split."""
    data = load_digits()
    if kind == "images":
        features: np.ndarray = np.round(data.images * 255 / 16).astype(np.uint8)[..., None]
    else:
        features = data.images.astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(
        features, data.target, test_size=0.25, random_state=0, stratify=data.target
    )
    return (
        Dataset(kind, features=x_train, targets=y_train),  # type: ignore[arg-type]
        Dataset(kind, features=x_test, targets=y_test),  # type: ignore[arg-type]
    )


def topic_texts(n: int, seed: int) -> Dataset:
    """Sentences of 3 to 14 words: filler, words of the sentence's topic and, in half of
    them, one word of another topic; the label is the topic."""
    rng = np.random.default_rng(seed)
    names = sorted(TOPICS)
    texts, labels = [], []
    for _ in range(n):
        topic = names[int(rng.integers(len(names)))]
        length = int(rng.integers(3, 15))
        words = [
            str(rng.choice(TOPICS[topic].split()))
            if rng.random() < 0.4
            else str(rng.choice(FILLER))
            for _ in range(length)
        ]
        words[int(rng.integers(length))] = str(rng.choice(TOPICS[topic].split()))
        if rng.random() < 0.5:
            other = names[(names.index(topic) + 1 + int(rng.integers(2))) % 3]
            words.insert(int(rng.integers(length)), str(rng.choice(TOPICS[other].split())))
        texts.append(" ".join(words).capitalize() + ".")
        labels.append(topic)
    return Dataset("text", texts=texts, targets=np.asarray(labels, dtype=object))


def cluster_corpus(
    clusters: int = 5, size: int = 8, sentences: int = 600, seed: int = 0
) -> tuple[Dataset, dict[str, int]]:
    """Each sentence is 8 words of one cluster, so a cluster's words share their contexts;
    returns the corpus and each word's cluster."""
    rng = np.random.default_rng(seed)
    words = {f"w{c}x{i}": c for c in range(clusters) for i in range(size)}
    by_cluster = [[w for w, c in words.items() if c == k] for k in range(clusters)]
    texts = [
        " ".join(rng.choice(by_cluster[int(rng.integers(clusters))], size=8))
        for _ in range(sentences)
    ]
    return Dataset("text", texts=texts), words


def same_tensors(a: TrainedModel, b: TrainedModel) -> bool:
    return a.weights.keys() == b.weights.keys() and all(
        torch.equal(a.weights[k], b.weights[k]) for k in a.weights
    )


# The trained models the quality and serving tests share, each trained once per session.
RECIPES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "cnn-digits": ("cnn", "images", {"epochs": 15}),
    "lstm-digits": ("rnn", "tensor", {"epochs": 15, "cell": "lstm"}),
    "gru-digits": ("rnn", "tensor", {"epochs": 15, "cell": "gru"}),
    "transformer-digits": ("transformer", "tensor", {"epochs": 12}),
    "lstm-topics": ("rnn", "text", {"epochs": 8, "cell": "lstm"}),
    "gru-topics": ("rnn", "text", {"epochs": 8, "cell": "gru"}),
    "transformer-topics": ("transformer", "text", {"epochs": 8, "positional_encoding": "learned"}),
}


@functools.cache
def trained(name: str) -> tuple[TrainedModel, Dataset]:
    """The model ``name`` of RECIPES and its held-out data."""
    algorithm, kind, params = RECIPES[name]
    if kind == "text":
        train, test = topic_texts(600, seed=0), topic_texts(300, seed=1)
    else:
        train, test = digits(kind)
    with one_thread():
        model = trainer.train(
            algorithm,
            train,
            test,
            params,
            seed=0,
            checkpoint_dir=None,
            on_event=no_events,
            should_stop=never,
        )
    return model, test


def served(name: str) -> tuple[Predictor, Dataset]:
    """The model ``name`` of RECIPES saved and loaded back, and its held-out data."""
    model, test = trained(name)
    return artifacts.load_predictor(*artifacts.save(model)), test


def accuracy(predictor: Predictor, test: Dataset) -> float:
    """The served model's accuracy on ``test``, through prepare_v2 and run."""
    if test.kind == "text":
        assert test.texts is not None
        items = predictor.prepare_v2({"text": np.asarray(test.texts, dtype=object)})
    else:
        assert test.features is not None
        items = predictor.prepare_v2({"input": test.features.astype(np.float32)})
    labels = [output["label"].item() for output in predictor.run(items)]
    assert test.targets is not None
    return float(np.mean(np.asarray(labels, dtype=object) == test.targets))


def tables(loader: Callable[..., Any], stratify: bool) -> tuple[Dataset, Dataset, Any]:
    """A scikit-learn table loader's data as training and held-out tables (75/25), and the
    raw (x_train, x_test, y_train, y_test) split."""
    data = loader()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data,
        data.target,
        test_size=0.25,
        random_state=0,
        stratify=data.target if stratify else None,
    )
    names = [str(name) for name in data.feature_names]
    return (
        Dataset("table", features=x_train, targets=y_train, feature_names=names),
        Dataset("table", features=x_test, targets=y_test, feature_names=names),
        (x_train, x_test, y_train, y_test),
    )


def serve_table(dataset: Dataset, hyperparameters: dict[str, Any], algorithm: str) -> Predictor:
    """``algorithm`` trained on ``dataset`` (seed 0), saved and loaded back."""
    model = trainer.train(
        algorithm,
        dataset,
        None,
        hyperparameters,
        seed=0,
        checkpoint_dir=None,
        on_event=no_events,
        should_stop=never,
    )
    return artifacts.load_predictor(*artifacts.save(model))


def predict(predictor: Predictor, features: np.ndarray, key: str) -> np.ndarray:
    """One output ``key`` of the served model for each row of ``features``."""
    outputs = predictor.run(predictor.prepare_v2({"input": features.astype(np.float32)}))
    return np.asarray([output[key] for output in outputs])


def logistic(train: Dataset, validation: Dataset | None) -> TrainedModel:
    """Logistic regression with its defaults (L-BFGS), seed 0."""
    return trainer.train(
        "logistic_regression",
        train,
        validation,
        {},
        seed=0,
        checkpoint_dir=None,
        on_event=no_events,
        should_stop=never,
    )


def cancer() -> Dataset:
    data = load_breast_cancer()
    names = [str(name) for name in data.feature_names]
    return Dataset("table", features=data.data, targets=data.target, feature_names=names)


# Two small runs the checkpoint, loop and trainer tests share: a table and a text task.
CASES: dict[str, tuple[Dataset, dict[str, Any]]] = {
    "mlp": (cancer(), {"epochs": 4, "hidden_sizes": [32, 16], "dropout": 0.3, "batch_size": 16}),
    "rnn": (
        topic_texts(160, seed=0),
        {"epochs": 3, "hidden_size": 16, "embedding_dim": 8, "dropout": 0.2, "num_layers": 2},
    ),
}


class StopAt:
    """should_stop that turns True at the ``step``-th check."""

    def __init__(self, step: int) -> None:
        self.step, self.checks = step, 0

    def __call__(self) -> bool:
        self.checks += 1
        return self.checks >= self.step


def train_case(
    algorithm: str,
    directory: Path | None,
    *,
    should_stop: Any = never,
    events: list[dict[str, Any]] | None = None,
    **overrides: Any,
) -> TrainedModel:
    """The CASES run of ``algorithm`` (seed 7) with ``overrides``, checkpointing in
    ``directory``; events go to ``events``."""
    dataset, params = CASES[algorithm]
    return trainer.train(
        algorithm,
        dataset,
        None,
        params | overrides,
        seed=7,
        checkpoint_dir=directory,
        on_event=no_events if events is None else events.append,
        should_stop=should_stop,
    )


def iris(algorithm: str = "mlp", **params: Any) -> tuple[TrainedModel, Dataset]:
    """``algorithm`` trained on the iris table (string labels), 30 epochs unless ``params``
    say otherwise; the model and the table."""
    data = load_iris()
    names = ["sepal length", "sepal width", "petal length", "petal width"]
    labels = np.asarray(data.target_names)[data.target]  # strings: setosa, versicolor, ...
    dataset = Dataset("table", features=data.data, targets=labels, feature_names=names)
    model = trainer.train(
        algorithm,
        dataset,
        None,
        {"epochs": 30} | params,
        seed=0,
        checkpoint_dir=None,
        on_event=no_events,
        should_stop=never,
    )
    return model, dataset


def tampered(model: TrainedModel, change: Any) -> tuple[bytes, bytes]:
    """The saved model's two files after ``change(spec, tensors)``."""
    weights, spec_json = artifacts.save(model)
    spec = json.loads(spec_json)
    tensors = load(weights)
    change(spec, tensors)
    return save(tensors), json.dumps(spec).encode()

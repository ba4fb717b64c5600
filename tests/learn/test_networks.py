"""The networks reach their quality bars on held-out data, measured through the served
model (save -> load_predictor -> prepare -> run), as a client would see them."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from aimaas.learn import artifacts, trainer
from aimaas.learn.servable import Predictor
from aimaas.uploads.dataset import Dataset
from tests.learn import cluster_corpus, never, no_events, one_thread, trained


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


def served(name: str) -> tuple[Predictor, Dataset]:
    model, test = trained(name)
    return artifacts.load_predictor(*artifacts.save(model)), test


def accuracy(predictor: Predictor, test: Dataset) -> float:
    if test.kind == "text":
        assert test.texts is not None
        items = predictor.prepare_v2({"text": np.asarray(test.texts, dtype=object)})
    else:
        assert test.features is not None
        items = predictor.prepare_v2({"input": test.features.astype(np.float32)})
    labels = [output["label"].item() for output in predictor.run(items)]
    assert test.targets is not None
    return float(np.mean(np.asarray(labels, dtype=object) == test.targets))


@pytest.mark.parametrize(
    ("name", "bar"),
    [
        ("cnn-digits", 0.97),
        ("lstm-digits", 0.95),
        ("gru-digits", 0.95),
        ("transformer-digits", 0.95),
        ("lstm-topics", 0.90),
        ("gru-topics", 0.90),
        ("transformer-topics", 0.90),
    ],
)
def test_held_out_accuracy_reaches_the_bar(name: str, bar: float) -> None:
    predictor, test = served(name)
    measured = accuracy(predictor, test)
    print(f"{name}: {measured:.4f} (bar {bar})")
    assert measured >= bar
    model, _ = trained(name)
    assert measured == pytest.approx(model.metrics["val_accuracy"], abs=1e-9)


def test_text_classifiers_answer_with_the_users_labels() -> None:
    predictor, _ = served("lstm-topics")
    assert predictor.labels == ["food", "sports", "tech"]
    assert [o.datatype for o in predictor.signature.outputs] == ["FP32", "BYTES"]
    [output] = predictor.run(predictor.prepare_instances(["The coach and the team won the match"]))
    assert predictor.describe(output)["label"] == "sports"
    assert output["label"].item() == "sports"


def test_word2vec_puts_each_words_nearest_neighbour_in_its_cluster() -> None:
    corpus, cluster = cluster_corpus()
    model = trainer.train(
        "word2vec",
        corpus,
        None,
        {"epochs": 5, "embedding_dim": 32},
        seed=0,
        checkpoint_dir=None,
        on_event=no_events,
        should_stop=never,
    )
    predictor = artifacts.load_predictor(*artifacts.save(model))
    words = list(cluster)
    vectors = np.stack([o["embedding"] for o in predictor.run(predictor.prepare_instances(words))])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = vectors @ vectors.T  # cosine
    np.fill_diagonal(similarity, -np.inf)
    nearest = similarity.argmax(axis=1)
    share = np.mean([cluster[w] == cluster[words[j]] for w, j in zip(words, nearest, strict=True)])
    print(f"word2vec: {share:.3f} of words have their nearest neighbour in their cluster")
    assert share >= 0.9
    assert predictor.signature.outputs[0].shape == [-1, 32]

"""A whole dataset through the served predictor: the model's one input built from the file
(table columns matched by name, text as strings), answers in row order whatever the batch
size, probabilities renormalised in float64, and each misfit refused naming the field."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_iris  # type: ignore[import-untyped]

from aimaas.errors import InvalidInput
from aimaas.evaluate.dataset_predictions import feature_names, model_inputs, predict_dataset
from aimaas.learn import artifacts, trainer
from aimaas.learn.servable import Predictor
from aimaas.uploads.dataset import Dataset
from tests.learn import cluster_corpus, never, no_events, one_thread, topic_texts

NAMES = ["sepal length", "sepal width", "petal length", "petal width"]


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


def fit(algorithm: str, dataset: Dataset, **params: Any) -> Predictor:
    model = trainer.train(
        algorithm, dataset, None, params, seed=0, checkpoint_dir=None,
        on_event=no_events, should_stop=never,
    )  # fmt: skip
    return artifacts.load_predictor(*artifacts.save(model))


def iris() -> Dataset:
    data = load_iris()
    labels = np.asarray(data.target_names)[data.target]
    return Dataset("table", features=data.data, targets=labels, feature_names=NAMES)


@functools.cache
def classifier() -> Predictor:
    return fit("logistic_regression", iris(), l2=0.01)


@functools.cache
def text_classifier() -> Predictor:
    return fit("rnn", topic_texts(60, seed=0), epochs=1, embedding_dim=8, hidden_size=8)


def test_a_tables_columns_are_taken_by_name_and_extra_ones_ignored() -> None:
    model = classifier()
    assert feature_names(model) == NAMES
    data = iris()
    assert data.features is not None
    order = [2, 0, 3, 1]
    shuffled = Dataset(
        "table",
        features=np.column_stack([data.features[:, order], np.full(len(data), 9.0)]),
        targets=data.targets,
        feature_names=[NAMES[i] for i in order] + ["extra"],
    )
    np.testing.assert_array_equal(model_inputs(model, shuffled), data.features)
    assert model_inputs(model, data) is data.features  # already in the model's order
    a = predict_dataset(model, data).probabilities
    b = predict_dataset(model, shuffled).probabilities
    assert a is not None and b is not None and np.array_equal(a, b)


def test_a_missing_column_is_refused_under_the_callers_param() -> None:
    data = iris()
    assert data.features is not None
    short = Dataset("table", features=data.features[:, :3], targets=data.targets,
                    feature_names=NAMES[:3])  # fmt: skip
    with pytest.raises(InvalidInput, match=r"lacks the column\(s\) \['petal width'\]") as info:
        model_inputs(classifier(), short, param="evaluation_file")
    assert info.value.param == "evaluation_file"
    with pytest.raises(InvalidInput) as info:
        predict_dataset(classifier(), short)
    assert info.value.param == "file"


def test_text_and_numbers_are_not_mixed_up() -> None:
    texts = topic_texts(5, seed=3)
    inputs = model_inputs(text_classifier(), texts)
    assert inputs.dtype == object and inputs.tolist() == texts.texts
    assert feature_names(text_classifier()) is None
    with pytest.raises(InvalidInput, match="reads text") as info:
        model_inputs(text_classifier(), iris())
    assert info.value.param == "file"
    with pytest.raises(InvalidInput, match="reads numbers") as info:
        model_inputs(classifier(), texts, param="evaluation_file")
    assert info.value.param == "evaluation_file"


def test_classifier_answers_are_in_row_order_whatever_the_batch_size() -> None:
    model, data = classifier(), iris()
    assert data.features is not None
    raw = model.run(model.prepare_v2({"input": data.features}))
    expected = np.stack([np.asarray(o["probabilities"], dtype=np.float64) for o in raw])
    for batch_size in (1, 7, 150, 1000):
        found = predict_dataset(model, data, batch_size=batch_size)
        assert found.task == "classification" and len(found) == 150
        assert found.labels == ["setosa", "versicolor", "virginica"]
        p = found.probabilities
        assert p is not None and p.dtype == np.float64 and p.shape == (150, 3)
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-15)
        np.testing.assert_allclose(p, expected, rtol=0, atol=1e-6)
        labels = np.asarray(found.labels, dtype=object)[p.argmax(axis=1)]
        assert found.predicted.dtype == object and found.predicted.tolist() == labels.tolist()
    text = predict_dataset(text_classifier(), topic_texts(9, seed=4), batch_size=4)
    assert len(text) == 9 and set(text.predicted.tolist()) <= set(text.labels or [])


def test_regressor_answers_are_float64_predictions() -> None:
    data = load_diabetes()
    names = [f"x{i}" for i in range(data.data.shape[1])]
    dataset = Dataset("table", features=data.data, targets=data.target, feature_names=names)
    model = fit("linear_regression", dataset)
    found = predict_dataset(model, dataset, batch_size=100)
    raw = model.run(model.prepare_v2({"input": data.data}))
    assert found.task == "regression" and found.probabilities is None and found.labels is None
    assert found.predicted.dtype == np.float64 and len(found) == len(dataset)
    np.testing.assert_allclose(
        found.predicted, [float(o["prediction"]) for o in raw], rtol=1e-6, atol=1e-6
    )


def test_an_empty_file_has_no_answers() -> None:
    empty = Dataset("table", features=np.zeros((0, 4)), targets=np.array([], dtype=object),
                    feature_names=NAMES)  # fmt: skip
    found = predict_dataset(classifier(), empty)
    assert len(found) == 0
    assert found.probabilities is not None and found.probabilities.shape == (0, 3)


def test_rows_that_do_not_fit_are_named_and_bad_batch_sizes_refused() -> None:
    data = iris()
    assert data.features is not None and data.targets is not None
    unnamed = Dataset("table", features=data.features[:10, :3], targets=data.targets[:10])
    with pytest.raises(InvalidInput, match=r"^Rows 0\.\.3 of the file do not fit") as info:
        predict_dataset(classifier(), unnamed, batch_size=4)
    assert info.value.param == "file"
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        predict_dataset(classifier(), data, batch_size=0)


def test_an_embedding_model_has_no_predictions_to_score() -> None:
    corpus, _ = cluster_corpus(sentences=60)
    model = fit("word2vec", corpus, epochs=1)
    assert model.task == "embedding"
    with pytest.raises(InvalidInput, match="no predictions to score") as info:
        predict_dataset(model, corpus)
    assert info.value.param == "model"

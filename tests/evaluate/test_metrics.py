"""Evaluation metrics equal scikit-learn's on the same predictions (computed again here,
independently, from the model's own outputs), for binary and multiclass classifiers,
regressors, text models, and files with labels the model never saw."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from sklearn import metrics as skm  # type: ignore[import-untyped]
from sklearn.datasets import load_diabetes, load_iris  # type: ignore[import-untyped]

from aimaas.errors import InvalidInput
from aimaas.evaluate import evaluate_predictor, predict_dataset
from aimaas.learn import artifacts, trainer
from aimaas.learn.servable import Predictor
from aimaas.uploads.dataset import Dataset
from tests.learn import never, no_events, one_thread, topic_texts

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


def iris_dataset() -> Dataset:
    data = load_iris()
    labels = np.asarray(data.target_names)[data.target]
    return Dataset("table", features=data.data, targets=labels, feature_names=NAMES)


@pytest.fixture(scope="module")
def iris_model() -> Predictor:
    # Weakly regularised so the model makes some mistakes and every metric is non-trivial.
    return fit("logistic_regression", iris_dataset(), l2=0.01)


def probabilities(model: Predictor, dataset: Dataset) -> np.ndarray:
    """predict_dataset's probabilities, checked against the predictor's raw outputs."""
    p = predict_dataset(model, dataset, batch_size=32).probabilities
    assert p is not None and p.dtype == np.float64
    assert np.allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-15)
    if dataset.feature_names == NAMES:
        assert dataset.features is not None
        raw = model.run(model.prepare_v2({"input": dataset.features}))
        assert np.allclose(p, np.stack([o["probabilities"] for o in raw]), atol=1e-6)
    return p


def sklearn_classification(y: np.ndarray, p: np.ndarray, classes: list[Any]) -> dict[str, float]:
    pred = np.asarray(classes, dtype=object)[p.argmax(axis=1)].astype(y.dtype)
    out = {"accuracy": skm.accuracy_score(y, pred)}
    for avg in ("macro", "weighted"):
        out[f"precision_{avg}"] = skm.precision_score(y, pred, average=avg, zero_division=0)
        out[f"recall_{avg}"] = skm.recall_score(y, pred, average=avg, zero_division=0)
        out[f"f1_{avg}"] = skm.f1_score(y, pred, average=avg, zero_division=0)
    return out


def test_multiclass_metrics_equal_sklearns(iris_model: Predictor) -> None:
    dataset = iris_dataset()
    result = evaluate_predictor(iris_model, dataset)
    # The same predictions, scored by scikit-learn here; they are the predictor's own.
    p = probabilities(iris_model, dataset)
    classes = list(iris_model.labels or [])
    y = np.asarray(dataset.targets)
    expected = sklearn_classification(y, p, classes)
    expected["roc_auc"] = skm.roc_auc_score(y, p, multi_class="ovr", average="macro")
    expected["log_loss"] = skm.log_loss(y, p, labels=classes)
    assert result.task == "classification" and result.rows == 150
    assert set(result.metrics) == set(expected)
    for name, value in expected.items():
        assert result.metrics[name] == pytest.approx(value, abs=1e-12), name
    assert 0.5 < result.metrics["accuracy"] < 1.0
    pred = np.asarray(classes, dtype=object)[p.argmax(axis=1)].astype(y.dtype)
    assert result.labels == classes
    assert result.confusion_matrix == skm.confusion_matrix(y, pred, labels=classes).tolist()
    precision, recall, f1, support = skm.precision_recall_fscore_support(y, pred, labels=classes)
    for i, label in enumerate(classes):
        assert result.per_class is not None
        row = result.per_class[label]
        assert (row["precision"], row["recall"], row["f1"], row["support"]) == pytest.approx(
            (precision[i], recall[i], f1[i], support[i])
        )
    assert result.roc_curves is not None and [c.label for c in result.roc_curves] == classes
    for k, curve in enumerate(result.roc_curves):
        fpr, tpr, _ = skm.roc_curve(y == classes[k], p[:, k])
        assert curve.fpr == pytest.approx(fpr.tolist()) and curve.tpr == pytest.approx(tpr)
        assert curve.auc == pytest.approx(skm.auc(fpr, tpr))
    assert result.unseen_labels is None and result.notes == []


def test_binary_roc_auc_and_columns_matched_by_name() -> None:
    data = load_iris()
    keep = data.target > 0  # versicolor vs virginica: not separable, so AUC < 1
    labels = np.asarray(data.target_names)[data.target[keep]]
    x = data.data[keep]
    train = Dataset("table", features=x[::2], targets=labels[::2], feature_names=NAMES)
    model = fit("logistic_regression", train, l2=0.01)
    # The evaluation file has its columns in another order and an extra one.
    order = [3, 1, 0, 2]
    test = Dataset(
        "table",
        features=np.column_stack([x[:, order], np.arange(len(x))]),
        targets=labels,
        feature_names=[NAMES[i] for i in order] + ["row_id"],
    )
    result = evaluate_predictor(model, test)
    p = probabilities(model, test)
    classes = list(model.labels or [])
    expected = sklearn_classification(labels, p, classes)
    expected["roc_auc"] = skm.roc_auc_score(labels == classes[1], p[:, 1])
    expected["log_loss"] = skm.log_loss(labels, p, labels=classes)
    for name, value in expected.items():
        assert result.metrics[name] == pytest.approx(value, abs=1e-12), name
    assert 0.5 < result.metrics["roc_auc"] < 1.0
    assert result.roc_curves is not None and [c.label for c in result.roc_curves] == [classes[1]]
    missing = Dataset("table", features=x[:, :3], targets=labels, feature_names=NAMES[:3])
    with pytest.raises(InvalidInput, match="petal width") as info:
        evaluate_predictor(model, missing)
    assert info.value.param == "file"


def test_unseen_labels_count_as_errors_and_do_not_crash(iris_model: Predictor) -> None:
    dataset = iris_dataset()
    targets = np.asarray(dataset.targets).copy()
    targets[:10] = "unicorn"  # ten setosa rows relabelled with a class the model never saw
    relabelled = Dataset("table", features=dataset.features, targets=targets, feature_names=NAMES)
    result = evaluate_predictor(iris_model, relabelled)
    prediction = predict_dataset(iris_model, relabelled)
    pred = prediction.predicted.astype(str)
    assert result.metrics["accuracy"] == pytest.approx(skm.accuracy_score(targets, pred))
    assert result.metrics["f1_macro"] == pytest.approx(
        skm.f1_score(targets, pred, average="macro", zero_division=0)
    )
    assert result.unseen_labels == {"unicorn": 10}
    assert result.labels == ["setosa", "versicolor", "virginica", "unicorn"]
    assert result.confusion_matrix is not None and sum(result.confusion_matrix[3]) == 10
    assert result.confusion_matrix[3][3] == 0  # never predicted right
    assert result.per_class is not None and result.per_class["unicorn"]["recall"] == 0.0
    known = targets != "unicorn"
    assert prediction.probabilities is not None
    assert result.metrics["log_loss"] == pytest.approx(
        skm.log_loss(targets[known], prediction.probabilities[known], labels=iris_model.labels)
    )
    assert any("never saw" in note for note in result.notes)


def test_regression_metrics_equal_sklearns() -> None:
    data = load_diabetes()
    names = [f"x{i}" for i in range(data.data.shape[1])]
    dataset = Dataset("table", features=data.data, targets=data.target, feature_names=names)
    model = fit("linear_regression", dataset)
    result = evaluate_predictor(model, dataset)
    predicted = np.array(
        [float(o["prediction"]) for o in model.run(model.prepare_v2({"input": data.data}))]
    )
    y = data.target
    assert result.task == "regression" and result.per_class is None
    assert result.metrics == pytest.approx(
        {
            "mse": skm.mean_squared_error(y, predicted),
            "rmse": skm.root_mean_squared_error(y, predicted),
            "mae": skm.mean_absolute_error(y, predicted),
            "r2": skm.r2_score(y, predicted),
        },
        rel=1e-12,
    )
    assert 0.3 < result.metrics["r2"] < 0.7
    text = Dataset("table", features=data.data, targets=np.array(["a"] * len(y)),
                   feature_names=names)  # fmt: skip
    with pytest.raises(InvalidInput) as info:
        evaluate_predictor(model, text)
    assert info.value.param == "target"


def test_text_classifier_and_unlabelled_files() -> None:
    dataset = topic_texts(120, seed=0)
    labels = np.asarray(dataset.targets).astype(str)
    model = fit("rnn", dataset, epochs=2, embedding_dim=8, hidden_size=8)
    result = evaluate_predictor(model, dataset)
    pred = predict_dataset(model, dataset, batch_size=7).predicted.astype(str)
    assert result.metrics["accuracy"] == pytest.approx(skm.accuracy_score(labels, pred))
    assert result.rows == 120
    with pytest.raises(InvalidInput, match="no labels"):
        evaluate_predictor(model, Dataset("text", texts=dataset.texts))
    with pytest.raises(InvalidInput, match="reads text"):
        evaluate_predictor(model, iris_dataset())

"""Run a trained model over a whole Dataset, in batches, through the same ``Predictor``
hooks that serve it (``prepare_v2`` then ``run``): what is evaluated is what is served."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from aimaas.errors import InvalidInput
from aimaas.learn.servable import Predictor, Task
from aimaas.uploads.dataset import Dataset


@dataclass(frozen=True)
class Predictions:
    """A model's answers for every row of a dataset, in row order.

    Classifiers: ``probabilities`` float64 [N, K] with columns in ``labels`` order (the
    model's float32 softmax, widened and renormalised so each row sums to 1 in float64, as
    scikit-learn's probability metrics check), and ``predicted`` [N] (object array) the
    most probable label of each row. Regressors:
    ``predicted`` float64 [N] and no probabilities."""

    task: Task
    predicted: np.ndarray
    probabilities: np.ndarray | None = None
    labels: list[Any] | None = None

    def __len__(self) -> int:
        return int(self.predicted.shape[0])


def feature_names(predictor: Predictor) -> list[str] | None:
    """The table columns a model reads, in its order (None for tensors, images, text)."""
    names = getattr(predictor, "feature_names", None)
    if names is None:  # ModelPredictor keeps them in its fitted encoding
        names = getattr(getattr(predictor, "_encoding", None), "feature_names", None)
    return None if names is None else [str(name) for name in names]


def model_inputs(predictor: Predictor, dataset: Dataset, *, param: str = "file") -> np.ndarray:
    """The dataset as the model's one v2 input: a table's columns reordered by name (extra
    columns ignored), tensors and images as they are, texts as an object array of str."""
    kind = predictor.signature.inputs[0].datatype
    if kind == "BYTES":
        if dataset.texts is None:
            raise InvalidInput(
                f"This model reads text; the file holds {dataset.kind} data.", param=param
            )
        return np.array(dataset.texts, dtype=object)
    if dataset.features is None:
        raise InvalidInput(
            "This model reads numbers (a table, tensors or images); the file holds text.",
            param=param,
        )
    wanted, present = feature_names(predictor), dataset.feature_names
    if wanted and present and present != wanted:
        missing = [name for name in wanted if name not in present]
        if missing:
            raise InvalidInput(
                f"The file lacks the column(s) {missing[:20]} that the model reads "
                f"({wanted[:50]}).",
                param=param,
            )
        return dataset.columns(wanted)
    return dataset.features


def predict_dataset(
    predictor: Predictor, dataset: Dataset, *, batch_size: int = 256
) -> Predictions:
    """Every row of ``dataset`` through ``predictor``; InvalidInput(param="file") when the
    file does not fit the model (its columns, shape or kind)."""
    if predictor.task not in ("classification", "regression"):
        raise InvalidInput(
            f"A {predictor.task} model has no predictions to score; evaluate a classifier "
            "or a regressor.",
            param="model",
        )
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    inputs = model_inputs(predictor, dataset)
    name = predictor.signature.inputs[0].name
    outputs: list[dict[str, np.ndarray]] = []
    for start in range(0, len(inputs), batch_size):
        chunk = inputs[start : start + batch_size]
        try:
            items = predictor.prepare_v2({name: chunk})
        except InvalidInput as exc:
            raise InvalidInput(
                f"Rows {start}..{start + len(chunk) - 1} of the file do not fit the model: "
                f"{exc.message}",
                param="file",
            ) from exc
        outputs.extend(predictor.run(items))
    if predictor.task == "regression":
        values = np.array([float(out["prediction"]) for out in outputs], dtype=np.float64)
        return Predictions(task="regression", predicted=values)
    labels = list(predictor.labels or [])
    k = len(labels)
    probabilities = (
        np.stack([np.asarray(out["probabilities"], dtype=np.float64) for out in outputs])
        if outputs
        else np.zeros((0, k), dtype=np.float64)
    )
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    predicted = np.empty(len(outputs), dtype=object)
    for row, index in enumerate(probabilities.argmax(axis=1).tolist() if outputs else []):
        predicted[row] = labels[index]
    return Predictions(
        task="classification", predicted=predicted, probabilities=probabilities, labels=labels
    )

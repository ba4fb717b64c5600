"""Shared builders for the optimization tests: the trained digits models of tests.learn,
their two files, and each method's child, made once per session."""

from __future__ import annotations

import functools
import json
from typing import Any

import numpy as np
import torch

from aimaas.learn import artifacts, specs
from aimaas.learn.inputs import TrainingData
from aimaas.learn.servable import Predictor
from aimaas.optimize import methods
from aimaas.optimize.artifacts import OptimizedArtifact
from aimaas.optimize.optimizer import optimize
from aimaas.uploads.dataset import Dataset
from tests.learn import digits, no_events, one_thread, topic_texts, trained

KINDS = {"cnn-digits": "images", "lstm-digits": "tensor", "gru-digits": "tensor"}


@functools.cache
def parent(name: str) -> tuple[bytes, bytes]:
    """(model.safetensors, model.json) of a trained model of tests.learn.RECIPES."""
    model, _ = trained(name)
    return artifacts.save(model)


def held_out(name: str) -> Dataset:
    return trained(name)[1]


def training_data(name: str) -> TrainingData:
    """The rows ``trained(name)`` was trained and validated on."""
    if name in KINDS:
        train, test = digits(KINDS[name])
    else:  # the generated text topics
        train, test = topic_texts(600, seed=0), topic_texts(300, seed=1)
    return TrainingData(train=train, validation=test, file_ids=[])


@functools.cache
def _child(name: str, method: str, frozen_options: str) -> OptimizedArtifact:
    options = methods.parse_options(method, json.loads(frozen_options))
    weights, spec_json = parent(name)
    model, _ = trained(name)
    with one_thread():
        return optimize(
            method,
            options,
            weights,
            spec_json,
            training_data(name),
            hyperparameters=model.spec["training"]["hyperparameters"],
            seed=0,
            on_event=no_events,
            check_stop=lambda: None,
        )


def child(name: str, method: str, **options: Any) -> OptimizedArtifact:
    """``name``'s child made by ``method`` with ``options`` (cached)."""
    return _child(name, method, json.dumps(options, sort_keys=True))


def model_rows(predictor: Predictor, dataset: Dataset) -> list[np.ndarray]:
    """The dataset's rows prepared as v2 requests would be."""
    if dataset.kind == "text":
        assert dataset.texts is not None
        return predictor.prepare_v2({"text": np.asarray(dataset.texts, dtype=object)})
    assert dataset.features is not None
    return predictor.prepare_v2({"input": dataset.features.astype(np.float32)})


def predicted_labels(predictor: Predictor, dataset: Dataset) -> np.ndarray:
    outputs = predictor.run(model_rows(predictor, dataset))
    return np.asarray([output["label"].item() for output in outputs], dtype=object)


def accuracy(predictor: Predictor, dataset: Dataset) -> float:
    assert dataset.targets is not None
    return float(np.mean(predicted_labels(predictor, dataset) == dataset.targets))


def served(name: str) -> Predictor:
    """The parent ``name`` as the registry serves it."""
    return artifacts.load_predictor(*parent(name))


def network_input(name: str) -> torch.Tensor:
    """``name``'s held-out rows as its network reads them."""
    spec = specs.read(parent(name)[1])
    features = held_out(name).features
    assert features is not None
    return spec.encoding.features(features)

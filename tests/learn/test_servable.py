"""servable.py: the training/serving contract's data types: frozen tensor specs and
signatures, and a TrainedModel whose metrics default to a fresh dict per model."""

from __future__ import annotations

import dataclasses
import typing

import pytest
import torch

from aimaas.learn.servable import Datatype, Signature, Task, TensorSpec, TrainedModel


def test_tensor_specs_and_signatures_are_frozen_values() -> None:
    spec = TensorSpec("input", "FP32", [-1, 4])
    assert spec == TensorSpec("input", "FP32", [-1, 4])
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.name = "other"  # type: ignore[misc]
    signature = Signature(inputs=[spec], outputs=[TensorSpec("label", "INT64", [-1])])
    with pytest.raises(dataclasses.FrozenInstanceError):
        signature.inputs = []  # type: ignore[misc]


def test_a_trained_models_metrics_are_its_own() -> None:
    first = TrainedModel(weights={"w": torch.zeros(1)}, spec={})
    second = TrainedModel(weights={}, spec={})
    first.metrics["loss"] = 1.0
    assert second.metrics == {}


def test_the_datatypes_and_tasks_are_the_protocols() -> None:
    assert typing.get_args(Datatype) == ("FP32", "FP64", "INT64", "INT32", "BOOL", "BYTES")
    assert typing.get_args(Task) == ("classification", "regression", "embedding")

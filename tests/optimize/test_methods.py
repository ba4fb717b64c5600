"""The optimization methods' options and applicability: options are strict and bounded
(each refusal names ``options.<key>``), defaults are filled in, and each method applies only
to the architectures and versions it can take."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aimaas.errors import InvalidInput
from aimaas.learn.optimized import METHODS
from aimaas.optimize import methods
from tests.optimize import child, parent

CNN = "cnn-digits"


@pytest.mark.parametrize(
    ("method", "options", "param"),
    [
        ("prune", {"sparsity": 0}, "options.sparsity"),
        ("prune", {"sparsity": 0.995}, "options.sparsity"),
        ("prune", {"sparsity": "0.5"}, "options.sparsity"),
        ("prune", {"fine_tune_epochs": 101}, "options.fine_tune_epochs"),
        ("prune_structured", {"fine_tune_epochs": -1}, "options.fine_tune_epochs"),
        ("prune", {"amount": 0.5}, "options.amount"),
        ("quantize_dynamic", {"bits": 4}, "options.bits"),
        ("quantize_static", {"calibration_rows": 0}, "options.calibration_rows"),
        ("export_onnx", {"graph_optimization": "max"}, "options.graph_optimization"),
        ("distill", {}, "method"),
    ],
)
def test_options_are_strict_and_bounded(method: str, options: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        methods.parse_options(method, options)
    assert caught.value.param == param
    assert param.removeprefix("options.") in caught.value.message


def test_defaults_and_integers_for_floats() -> None:
    assert methods.parse_options("prune", {}).model_dump() == {
        "sparsity": 0.5,
        "fine_tune_epochs": 0,
    }
    assert methods.parse_options("prune", {"sparsity": 0.99}).model_dump()["sparsity"] == 0.99


def test_methods_apply_only_where_they_can() -> None:
    cnn = json.loads(parent(CNN)[1])
    lstm = json.loads(parent("lstm-digits")[1])
    text = json.loads(parent("lstm-topics")[1])
    for method in METHODS:
        methods.check_applicable(method, cnn)
    for method, spec in (
        ("prune_structured", lstm),
        ("quantize_static", lstm),
        ("export_onnx", text),
        ("quantize_dynamic", {**cnn, "algorithm": "word2vec"}),
        ("prune", json.loads(child(CNN, "quantize_dynamic").description)),
        ("export_onnx", json.loads(child(CNN, "export_onnx").description)),
    ):
        with pytest.raises(InvalidInput) as caught:
            methods.check_applicable(method, spec)
        assert caught.value.param in ("method", "model")
    # A pruned version is still a float model: it can be quantized or exported.
    methods.check_applicable("export_onnx", json.loads(child(CNN, "prune").description))

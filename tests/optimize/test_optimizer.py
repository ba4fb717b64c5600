"""Each optimization method on the trained digits models, end to end through ``optimize``:
the accuracy it keeps, the ``optimization`` section of the child's ``model.json`` (its
history, sparsity, fine-tune) and the round trip through the artifacts to a served
predictor."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from safetensors.torch import load

from aimaas.errors import InvalidInput
from aimaas.learn import artifacts, specs
from aimaas.learn.architectures import load_network
from aimaas.optimize import methods
from aimaas.optimize import prune as pruning
from aimaas.optimize.optimizer import calibration_batches, optimize
from aimaas.registry.formats import TORCH_FORMAT
from tests.learn import no_events, one_thread
from tests.optimize import (
    accuracy,
    child,
    held_out,
    model_rows,
    network_input,
    parent,
    served,
    training_data,
)

CNN = "cnn-digits"


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


@pytest.mark.parametrize(
    ("method", "options"),
    [("quantize_dynamic", {}), ("quantize_static", {}), ("prune", {"sparsity": 0.5})],
)
def test_int8_and_half_pruned_cnns_lose_at_most_one_point(
    method: str, options: dict[str, float]
) -> None:
    test = held_out(CNN)
    before = accuracy(served(CNN), test)
    artifact = child(CNN, method, **options)
    after = accuracy(artifacts.load_predictor(artifact.weights, artifact.description), test)
    print(f"{method}: {before:.4f} -> {after:.4f}")
    assert before >= 0.97
    assert after >= before - 0.01


def test_pruning_reaches_the_sparsity_and_keeps_the_zeros_through_fine_tuning() -> None:
    for options in ({"sparsity": 0.5}, {"sparsity": 0.8, "fine_tune_epochs": 1}):
        artifact = child(CNN, "prune", **options)
        spec = specs.read(artifact.description)
        network = load_network(spec.algorithm, spec.config, load(artifact.weights))
        measured = pruning.sparsity(network)
        assert measured == pytest.approx(options["sparsity"], abs=1e-3)
        section = json.loads(artifact.description)["optimization"]
        assert section["sparsity"] == pytest.approx(measured)
        assert artifact.format == TORCH_FORMAT
    tuned = child(CNN, "prune", sparsity=0.8, fine_tune_epochs=1)
    assert json.loads(tuned.description)["optimization"]["fine_tune"]["epochs"] == 1


def test_the_rnn_on_tensor_sequences_exports_and_quantizes() -> None:
    test = held_out("lstm-digits")
    before = accuracy(served("lstm-digits"), test)
    for method in ("export_onnx", "quantize_dynamic"):
        artifact = child("lstm-digits", method)
        after = accuracy(artifacts.load_predictor(artifact.weights, artifact.description), test)
        assert after >= before - 0.01, method


@pytest.mark.parametrize(
    ("method", "options"),
    [
        ("quantize_dynamic", {}),
        ("quantize_static", {}),
        ("prune", {"sparsity": 0.5}),
        ("prune_structured", {"sparsity": 0.5}),
        ("export_onnx", {}),
    ],
)
def test_every_method_round_trips_through_the_artifacts(
    method: str, options: dict[str, float]
) -> None:
    artifact = child(CNN, method, **options)
    document = json.loads(artifact.description)
    assert document["optimization"]["method"] == method
    assert document["optimization"]["history"] == [
        {"method": method, "options": document["optimization"]["options"]}
    ]
    assert set(artifact.files) == {
        "model.onnx" if method == "export_onnx" else "model.safetensors",
        "model.json",
    }
    first = artifacts.load_predictor(artifact.weights, artifact.description)
    again = artifacts.load_predictor(artifact.weights, artifact.description)
    test = held_out(CNN)
    a, b = first.run(model_rows(first, test)), again.run(model_rows(again, test))
    assert all(
        np.array_equal(p["probabilities"], q["probabilities"]) for p, q in zip(a, b, strict=True)
    )
    # Served like any model: the signature, labels and v1 instances of the parent.
    original = served(CNN)
    assert first.signature == original.signature and first.labels == original.labels
    features = test.features
    assert features is not None
    described = first.describe(first.run(first.prepare_instances([features[0].tolist()]))[0])
    assert described["label"] in original.labels  # type: ignore[operator]


def test_chained_methods_keep_their_history() -> None:
    """Channel pruning, then ONNX export of the pruned version: smaller and on onnxruntime."""
    pruned = child(CNN, "prune_structured", sparsity=0.5, fine_tune_epochs=2)
    exported = optimize(
        "export_onnx",
        methods.parse_options("export_onnx", {}),
        pruned.weights,
        pruned.description,
        training_data(CNN),
        hyperparameters={},
        seed=0,
        on_event=no_events,
        check_stop=lambda: None,
    )
    history = json.loads(exported.description)["optimization"]["history"]
    assert [step["method"] for step in history] == ["prune_structured", "export_onnx"]
    predictor = artifacts.load_predictor(exported.weights, exported.description)
    torch_pruned = artifacts.load_predictor(pruned.weights, pruned.description)
    test = held_out(CNN)
    assert accuracy(predictor, test) == pytest.approx(accuracy(torch_pruned, test), abs=0.003)


def test_methods_that_need_the_training_data_refuse_without_it() -> None:
    weights, spec_json = parent(CNN)
    for method, raw in (("quantize_static", {}), ("prune", {"fine_tune_epochs": 1})):
        with pytest.raises(ValueError, match=f"{method} needs the parent's training data"):
            optimize(
                method, methods.parse_options(method, raw), weights, spec_json, None,
                hyperparameters={}, seed=0, on_event=no_events, check_stop=lambda: None,
            )  # fmt: skip
    with pytest.raises(InvalidInput) as refused:  # checked again here, not only at submit
        optimize(
            "prune_structured", methods.parse_options("prune_structured", {}),
            *parent("lstm-digits"), None, hyperparameters={}, seed=0, on_event=no_events,
            check_stop=lambda: None,
        )  # fmt: skip
    assert refused.value.param == "method"


def test_the_child_drops_the_parents_training_metrics() -> None:
    assert "metrics" in json.loads(parent(CNN)[1])
    document = json.loads(child(CNN, "quantize_dynamic").description)
    assert "metrics" not in document
    assert document["optimization"]["quantization"]["scheme"] == "dynamic"
    onnx = json.loads(child(CNN, "export_onnx").description)["optimization"]
    assert onnx["runtime"] == "onnxruntime" and onnx["graph_optimization"] == "all"


def test_calibration_rows_are_a_seeded_sample_in_batches() -> None:
    spec = specs.read(parent(CNN)[1])
    data = training_data(CNN)
    batches = list(calibration_batches(spec, data, 150, seed=0))
    assert [len(b) for b in batches] == [64, 64, 22]
    again = list(calibration_batches(spec, data, 150, seed=0))
    assert all(torch.equal(a, b) for a, b in zip(batches, again, strict=True))
    other = torch.cat(list(calibration_batches(spec, data, 150, seed=1)))
    assert not torch.equal(torch.cat(batches), other)
    everything = list(calibration_batches(spec, data, 10**6, seed=0))
    assert sum(len(b) for b in everything) == len(data.train)  # at most every row
    assert batches[0].shape[1:] == network_input(CNN).shape[1:]  # as the network reads them

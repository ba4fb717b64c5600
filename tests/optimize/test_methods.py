"""Each optimization method on the trained digits models: the accuracy it keeps, what it
does to the file and the network, and the round trip through the artifacts to a served
predictor."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from safetensors.torch import load

from aimaas.learn import artifacts, specs
from aimaas.learn.architectures import load_network
from aimaas.learn.onnx_graph import OnnxNetwork
from aimaas.learn.quantized import load_quantized
from aimaas.optimize import prune as pruning
from aimaas.optimize.quantize import quantize_dynamic, quantize_static
from aimaas.registry.formats import ONNX_FORMAT, TORCH_FORMAT
from tests.learn import one_thread
from tests.optimize import accuracy, child, held_out, model_rows, parent, training_data

CNN = "cnn-digits"


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


def served(name: str) -> artifacts.Predictor:  # type: ignore[name-defined]
    return artifacts.load_predictor(*parent(name))


def network_input(name: str) -> torch.Tensor:
    spec = specs.read(parent(name)[1])
    features = held_out(name).features
    assert features is not None
    return spec.encoding.features(features)


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


def test_channel_pruning_shrinks_the_layers_and_the_file() -> None:
    weights, _ = parent(CNN)
    artifact = child(CNN, "prune_structured", sparsity=0.5, fine_tune_epochs=2)
    document = json.loads(artifact.description)
    assert document["config"]["channels"] == [16, 32]  # from [32, 64]
    assert document["config"]["hidden_size"] == 64  # from 128
    assert len(artifact.weights) < 0.5 * len(weights)
    shapes = {k: list(v.shape) for k, v in load(artifact.weights).items()}
    assert shapes["blocks.0.conv.weight"] == [16, 1, 3, 3]
    assert shapes["blocks.1.conv.weight"] == [32, 16, 3, 3]
    assert shapes["head.1.weight"] == [64, 32 * 2 * 2]
    assert shapes["head.4.weight"] == [10, 64]
    predictor = artifacts.load_predictor(artifact.weights, artifact.description)
    assert accuracy(predictor, held_out(CNN)) >= 0.9


def test_channel_pruning_without_fine_tuning_keeps_the_strongest_filters() -> None:
    """The kept filters are the parent's own (largest L1 norms), in the parent's order."""
    weights, spec_json = parent(CNN)
    spec = specs.read(spec_json)
    original = load(weights)["blocks.0.conv.weight"]
    artifact = child(CNN, "prune_structured", sparsity=0.5)
    kept = load(artifact.weights)["blocks.0.conv.weight"]
    norms = original.abs().sum(dim=(1, 2, 3))
    expected = torch.sort(torch.topk(norms, 16).indices).values
    assert torch.equal(kept, original[expected])
    assert spec.config.channels == (32, 64)


def test_onnxruntime_answers_like_pytorch_within_1e_4() -> None:
    artifact = child(CNN, "export_onnx")
    assert artifact.format == ONNX_FORMAT
    torch_predictor = served(CNN)
    onnx_predictor = artifacts.load_predictor(artifact.weights, artifact.description)
    network = getattr(onnx_predictor, "_network", None)
    assert isinstance(network, OnnxNetwork)
    x = network_input(CNN)
    spec = specs.read(parent(CNN)[1])
    torch_network = load_network(spec.algorithm, spec.config, load(parent(CNN)[0]))
    with torch.inference_mode():
        expected = torch_network(x, None)
        found = network(x, None)
    assert float((found - expected).abs().max()) < 1e-4  # logits
    test = held_out(CNN)
    a = torch_predictor.run(model_rows(torch_predictor, test))
    b = onnx_predictor.run(model_rows(onnx_predictor, test))
    gap = max(
        float(np.abs(p["probabilities"] - q["probabilities"]).max())
        for p, q in zip(a, b, strict=True)
    )
    assert gap < 1e-4
    assert [p["label"].item() for p in a] == [q["label"].item() for q in b]


def test_the_rnn_on_tensor_sequences_exports_and_quantizes() -> None:
    test = held_out("lstm-digits")
    before = accuracy(served("lstm-digits"), test)
    for method in ("export_onnx", "quantize_dynamic"):
        artifact = child("lstm-digits", method)
        after = accuracy(artifacts.load_predictor(artifact.weights, artifact.description), test)
        assert after >= before - 0.01, method


@pytest.mark.parametrize("name", ["lstm-digits", "gru-digits", "lstm-topics"])
def test_dynamic_quantization_makes_rnn_weights_int8(name: str) -> None:
    weights, _ = parent(name)
    artifact = child(name, "quantize_dynamic")
    tensors = load(artifact.weights)
    section = json.loads(artifact.description)["optimization"]["quantization"]
    cell = "lstm" if name.startswith("lstm") else "gru"
    assert section["modules"] == {"rnn": cell, "head": "linear"}
    assert tensors["rnn.weight_ih_l0"].dtype == torch.int8
    assert tensors["rnn.weight_hh_l0"].dtype == torch.int8
    assert tensors["rnn.bias_ih_l0"].dtype == torch.float32
    assert len(artifact.weights) < 0.5 * len(weights)
    test = held_out(name)
    predictor = artifacts.load_predictor(artifact.weights, artifact.description)
    assert accuracy(predictor, test) >= accuracy(served(name), test) - 0.02


def test_quantized_networks_round_trip_bit_for_bit() -> None:
    """The network the artifact loads into computes exactly what the one that made it did."""
    for name, make in (
        (CNN, "static"),
        (CNN, "dynamic"),
        ("lstm-digits", "dynamic"),
        ("lstm-topics", "dynamic"),
    ):
        weights, spec_json = parent(name)
        spec = specs.read(spec_json)
        network = load_network(spec.algorithm, spec.config, load(weights))
        if make == "static":
            x = network_input(name)
            quantized = quantize_static(network, [x[:256]])  # type: ignore[arg-type]
        else:
            quantized = quantize_dynamic(network)
        loaded = load_quantized(spec.algorithm, spec.config, quantized.tensors, quantized.section)
        predictor = artifacts.load_predictor(weights, spec_json)
        rows = model_rows(predictor, held_out(name))[:64]
        with torch.inference_mode():
            if spec.encoding.kind == "text":
                from aimaas.learn.examples import pad

                ids, lengths = pad(rows)
                a, b = quantized.network(ids, lengths), loaded(ids, lengths)
            else:
                x = spec.encoding.features(np.stack(rows))
                a, b = quantized.network(x, None), loaded(x, None)
        assert torch.equal(a, b), (name, make)


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
    from aimaas.optimize import methods
    from aimaas.optimize.optimizer import optimize
    from tests.learn import no_events

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

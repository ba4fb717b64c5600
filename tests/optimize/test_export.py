"""ONNX export: the exported digits CNN answers on onnxruntime as the PyTorch network does
(logits and probabilities within 1e-4), and what is not exported."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch
from safetensors.torch import load

from aimaas.learn import artifacts, specs
from aimaas.learn.architectures import load_network
from aimaas.learn.onnx_graph import OnnxNetwork
from aimaas.registry.formats import ONNX_FORMAT
from tests.learn import one_thread
from tests.optimize import child, held_out, model_rows, network_input, parent, served

CNN = "cnn-digits"


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


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

"""ONNX export: the exported digits CNN answers on onnxruntime as the PyTorch network does
(logits and probabilities within 1e-4), and what is not exported."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import onnx
import onnxruntime as ort  # type: ignore[import-untyped]
import pytest
import torch
from safetensors.torch import load

from aimaas.learn import artifacts, specs
from aimaas.learn.architectures import load_network
from aimaas.learn.onnx_graph import OnnxNetwork
from aimaas.optimize.export import OPSET, export_onnx
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


def test_the_graph_takes_any_batch_size_and_names_its_input_and_output() -> None:
    artifact = child(CNN, "export_onnx")
    model = onnx.load_from_string(artifact.weights)
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [OPSET]
    assert not any(init.data_location == onnx.TensorProto.EXTERNAL
                   for init in model.graph.initializer)  # fmt: skip
    session = ort.InferenceSession(artifact.weights, providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input"]
    assert [o.name for o in session.get_outputs()] == ["output"]
    spec = specs.read(parent(CNN)[1])
    network = load_network(spec.algorithm, spec.config, load(parent(CNN)[0])).eval()
    x = network_input(CNN)
    for batch in (1, 7, 100):
        (found,) = session.run(["output"], {"input": x[:batch].numpy()})
        with torch.inference_mode():
            expected = network(x[:batch], None).numpy()
        assert found.shape == (batch, 10)
        assert float(np.abs(found - expected).max()) < 1e-4, batch


def test_a_text_model_is_not_exported() -> None:
    spec = specs.read(parent("lstm-topics")[1])
    with pytest.raises(ValueError, match="text models are not exported"):
        export_onnx(torch.nn.Linear(1, 1), spec)

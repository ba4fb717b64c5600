"""An optimized version's two files: safetensors of the tensors (made contiguous, detached)
or the ONNX graph as given, and ``model.json`` as strict JSON, under the file names the
registry serves for each format."""

from __future__ import annotations

import json
import math

import pytest
import torch
from safetensors.torch import load

from aimaas.optimize.artifacts import OptimizedArtifact, onnx_artifact, torch_artifact
from aimaas.registry.formats import ONNX_FORMAT, TORCH_FORMAT

DOCUMENT = {"algorithm": "mlp", "optimization": {"method": "prune", "sparsity": 0.5}}


def test_a_torch_artifact_holds_the_tensors_and_the_description() -> None:
    weight = torch.arange(12, dtype=torch.float32).reshape(3, 4).t()  # not contiguous
    ints = torch.tensor([[-128, 127]], dtype=torch.int8)
    grad = torch.ones(2, requires_grad=True)
    artifact = torch_artifact({"w": weight, "q": ints, "b": grad}, DOCUMENT)
    assert artifact.format == TORCH_FORMAT
    assert set(artifact.files) == {"model.safetensors", "model.json"}
    assert artifact.files["model.safetensors"] == artifact.weights
    assert artifact.files["model.json"] == artifact.description
    tensors = load(artifact.weights)
    assert torch.equal(tensors["w"], weight) and tensors["w"].is_contiguous()
    assert tensors["q"].dtype == torch.int8 and torch.equal(tensors["q"], ints)
    assert torch.equal(tensors["b"], torch.ones(2))
    assert json.loads(artifact.description) == DOCUMENT


def test_an_onnx_artifact_keeps_the_graph_bytes_as_given() -> None:
    graph = b"\x08\x09not-really-a-graph"
    artifact = onnx_artifact(graph, DOCUMENT)
    assert artifact.format == ONNX_FORMAT and artifact.weights is graph
    assert set(artifact.files) == {"model.onnx", "model.json"}
    assert artifact.files["model.onnx"] == graph
    assert json.loads(artifact.files["model.json"]) == DOCUMENT


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_a_description_with_a_non_finite_number_is_refused(value: float) -> None:
    with pytest.raises(ValueError, match="JSON compliant"):
        torch_artifact({"w": torch.zeros(1)}, {"metrics": {"loss": value}})


def test_an_artifact_is_frozen() -> None:
    artifact = OptimizedArtifact(TORCH_FORMAT, b"w", b"{}")
    with pytest.raises(AttributeError):
        artifact.format = ONNX_FORMAT  # type: ignore[misc]

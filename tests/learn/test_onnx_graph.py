"""onnx_graph.py: a graph of a network served through onnxruntime answers like the PyTorch
network, and ``check_graph`` refuses graphs that reach outside themselves (functions,
foreign domains, external data, also inside subgraphs) or have the wrong input/output."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import onnx
import onnx.numpy_helper
import pytest
import torch
from onnx import TensorProto, helper

from aimaas.learn import encoding
from aimaas.learn.models.mlp import MLP, MLPConfig
from aimaas.learn.onnx_graph import LEVELS, OnnxNetwork, check_graph, load_onnx
from aimaas.learn.specs import ModelDescription
from aimaas.uploads.dataset import Dataset
from tests.learn import one_thread

CONFIG = MLPConfig(n_features=4, hidden_sizes=(8,), n_outputs=3, dropout=0.0)


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


def spec() -> ModelDescription:
    dataset = Dataset("table", features=np.zeros((3, 4)), targets=np.array([0, 1, 2]))
    coding = encoding.fit(dataset, layout="flat", task="classification")
    return ModelDescription("mlp", "classification", CONFIG, coding, 3)


def weight() -> TensorProto:
    return helper.make_tensor("w", TensorProto.FLOAT, [4, 3], [0.5] * 12)


def graph_bytes(
    nodes: list[onnx.NodeProto] | None = None,
    *,
    outputs: int = 3,
    initializers: list[TensorProto] | None = None,
    functions: list[onnx.FunctionProto] | None = None,
    opsets: list[onnx.OperatorSetIdProto] | None = None,
) -> bytes:
    """input [batch, 4] -> MatMul w -> output [batch, outputs], or ``nodes``."""
    graph = helper.make_graph(
        nodes or [helper.make_node("MatMul", ["input", "w"], ["output"])],
        "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", outputs])],
        [weight()] if initializers is None else initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=opsets or [helper.make_opsetid("", 18)],
        functions=functions or [],
    )
    return bytes(model.SerializeToString())


def mlp_graph(network: MLP) -> bytes:
    """The MLP written out by hand as ONNX: Gemm -> Relu -> Gemm, its weights inside (the
    exporter itself, aimaas.optimize.export, takes seconds and is tested there)."""
    state = {k: v.detach().numpy() for k, v in network.state_dict().items()}
    initializers = [
        onnx.numpy_helper.from_array(state[key], name)
        for key, name in [
            ("hidden.0.weight", "w1"),
            ("hidden.0.bias", "b1"),
            ("head.weight", "w2"),
            ("head.bias", "b2"),
        ]
    ]
    nodes = [
        helper.make_node("Gemm", ["input", "w1", "b1"], ["h"], transB=1),
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node("Gemm", ["r", "w2", "b2"], ["output"], transB=1),
    ]
    return graph_bytes(nodes, initializers=initializers)


@pytest.mark.parametrize("level", sorted(LEVELS))
def test_a_graph_of_the_network_answers_like_pytorch(level: str) -> None:
    torch.manual_seed(0)
    network = MLP(CONFIG).eval()
    served = load_onnx(mlp_graph(network), spec(), level=level, threads=1)
    assert isinstance(served, OnnxNetwork)
    x = torch.randn(5, 4)
    out = served(x)
    assert out.dtype == torch.float32 and out.shape == (5, 3)
    with torch.no_grad():
        assert torch.allclose(out, network(x), atol=1e-5)
    assert served(x[:1]).shape == (1, 3)  # the batch axis is dynamic


def test_a_handmade_graph_of_standard_operators_is_served() -> None:
    served = load_onnx(graph_bytes(), spec(), level="basic", threads=0)
    out = served(torch.ones(2, 4), None)
    assert out.tolist() == [[2.0, 2.0, 2.0], [2.0, 2.0, 2.0]]


def test_a_graph_onnxruntime_cannot_load_is_refused_by_type_only() -> None:
    nodes = [helper.make_node("NoSuchOperator", ["input", "w"], ["output"])]
    data = graph_bytes(nodes)
    check_graph(data, spec())  # standard domain, right shapes: the checks pass
    with pytest.raises(ValueError, match=r"^onnxruntime cannot load the model: \w+$"):
        load_onnx(data, spec(), level="all", threads=1)


def external(name: str) -> TensorProto:
    tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=[4, 3])
    tensor.data_location = TensorProto.EXTERNAL
    tensor.external_data.add(key="location", value="/etc/passwd")
    return tensor


def branch(node: onnx.NodeProto, initializers: list[TensorProto] | None = None) -> onnx.GraphProto:
    return helper.make_graph(
        [node],
        "branch",
        [],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializers or [],
    )


def with_if(then: onnx.GraphProto) -> bytes:
    """A graph whose If node holds ``then`` as a subgraph attribute."""
    const = helper.make_node("Constant", [], ["flag"], value_int=1)
    cast = helper.make_node("Cast", ["flag"], ["cond"], to=TensorProto.BOOL)
    plain = branch(helper.make_node("Identity", ["w"], ["y"]))
    choose = helper.make_node("If", ["cond"], ["chosen"], then_branch=then, else_branch=plain)
    matmul = helper.make_node("MatMul", ["input", "chosen"], ["output"])
    return graph_bytes([const, cast, choose, matmul])


def test_subgraphs_are_checked_too() -> None:
    clean = with_if(branch(helper.make_node("Identity", ["w"], ["y"])))
    check_graph(clean, spec())
    foreign = with_if(branch(helper.make_node("Evil", ["w"], ["y"], domain="com.example")))
    with pytest.raises(ValueError, match=r"uses the operator domain 'com\.example'"):
        check_graph(foreign, spec())
    outside = with_if(branch(helper.make_node("Identity", ["v"], ["y"]), [external("v")]))
    with pytest.raises(ValueError, match="refers to external data"):
        check_graph(outside, spec())


def test_a_constant_attribute_with_external_data_is_refused() -> None:
    const = helper.make_node("Constant", [], ["w"], value=external("c"))
    nodes = [const, helper.make_node("MatMul", ["input", "w"], ["output"])]
    with pytest.raises(ValueError, match="refers to external data"):
        check_graph(graph_bytes(nodes, initializers=[]), spec())


def test_functions_and_foreign_opsets_are_refused() -> None:
    function = helper.make_function(
        "com.example", "Twice", ["x"], ["y"], [helper.make_node("Add", ["x", "x"], ["y"])],
        [helper.make_opsetid("", 18)],
    )  # fmt: skip
    with pytest.raises(ValueError, match="uses functions or operator domains"):
        check_graph(graph_bytes(functions=[function]), spec())
    opsets = [helper.make_opsetid("", 18), helper.make_opsetid("com.microsoft", 1)]
    with pytest.raises(ValueError, match="uses functions or operator domains"):
        check_graph(graph_bytes(opsets=opsets), spec())


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "takes and gives"),  # an empty protobuf is an empty model
        (b"\xff\xff\xff", "not an ONNX model"),
    ],
)
def test_bytes_that_are_no_fitting_model_are_refused(data: bytes, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        check_graph(data, spec())


def test_the_input_and_output_must_be_the_ones_the_spec_implies() -> None:
    with pytest.raises(ValueError) as caught:
        check_graph(graph_bytes(outputs=5), spec())
    message = str(caught.value)
    assert message == (
        "model.onnx takes and gives {'input': [4], 'output': [5]}, "
        "not {'input': [4], 'output': [3]}"
    )
    as_input: Any = helper.make_tensor_value_info("w", TensorProto.FLOAT, [4, 3])
    model = onnx.load_from_string(graph_bytes())
    model.graph.input.append(as_input)  # an initializer listed as an input is no input
    check_graph(model.SerializeToString(), spec())

"""Open Inference Protocol tensors (aimaas/runtime/tensors.py): inputs decoded to arrays and
checked against a signature, every mismatch an InvalidInput naming the input; outputs
encoded back."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from aimaas.errors import InvalidInput
from aimaas.learn.servable import Signature, TensorSpec
from aimaas.protocol.v2 import InferInput
from aimaas.runtime import tensors
from aimaas.runtime.tensors import decode_inputs, encode_output

V2 = {"name": "input", "shape": [1, 3], "datatype": "FP32", "data": [1.0, 2.0, 0.0]}
SIGNATURE = Signature(
    inputs=[TensorSpec("input", "FP32", [-1, 3]), TensorSpec("ids", "INT64", [-1])],
    outputs=[TensorSpec("y", "FP32", [-1])],
)


def _inputs(*tensors_: dict[str, Any]) -> list[InferInput]:
    return [InferInput.model_validate(t) for t in tensors_]


def _ids(rows: int) -> dict[str, Any]:
    return {"name": "ids", "shape": [rows], "datatype": "INT64", "data": list(range(rows))}


def _refused(inputs: list[InferInput], signature: Signature = SIGNATURE) -> InvalidInput:
    with pytest.raises(InvalidInput) as raised:
        decode_inputs(inputs, signature)
    return raised.value


def test_values_out_of_float32_range_are_400_not_inf() -> None:
    """1e300 in an FP32 tensor: refused, not cast to inf (with warnings as errors, as in the
    suite, the cast's RuntimeWarning used to escape as a 500)."""
    signature = Signature(
        inputs=[TensorSpec("input", "FP32", [-1, 3])], outputs=[TensorSpec("y", "FP32", [-1])]
    )
    tensor = InferInput.model_validate({**V2, "data": [1e300, 0.0, 0.0]})
    with pytest.raises(InvalidInput, match="out of range for FP32"):
        decode_inputs([tensor], signature)
    fine = decode_inputs([InferInput.model_validate(V2)], signature)
    assert fine["input"].dtype == np.float32


def test_inputs_decode_to_arrays_of_their_shape_and_type() -> None:
    flat = {**V2, "shape": [2, 3], "data": [1, 2, 3, 4.5, 5, 6]}  # integers are numbers too
    nested = {**flat, "data": [[1, 2, 3], [4.5, 5, 6]]}
    for given in (flat, nested):
        arrays = decode_inputs(_inputs(given, _ids(2)), SIGNATURE)
        assert set(arrays) == {"input", "ids"}
        assert arrays["input"].shape == (2, 3) and arrays["input"].dtype == np.float32
        np.testing.assert_allclose(arrays["input"][1], [4.5, 5.0, 6.0], rtol=0, atol=1e-6)
        assert arrays["ids"].dtype == np.int64 and arrays["ids"].tolist() == [0, 1]


def test_every_datatype_decodes() -> None:
    signature = Signature(
        inputs=[
            TensorSpec("f64", "FP64", [2]),
            TensorSpec("i32", "INT32", [2]),
            TensorSpec("b", "BOOL", [2]),
            TensorSpec("s", "BYTES", [2]),
        ],
        outputs=[],
    )
    arrays = decode_inputs(
        _inputs(
            {"name": "f64", "shape": [2], "datatype": "FP64", "data": [0.5, 1]},
            {"name": "i32", "shape": [2], "datatype": "INT32", "data": [7, -7]},
            {"name": "b", "shape": [2], "datatype": "BOOL", "data": [True, False]},
            {"name": "s", "shape": [2], "datatype": "BYTES", "data": ["a", "bc"]},
        ),
        signature,
    )
    assert arrays["f64"].dtype == np.float64 and arrays["i32"].dtype == np.int32
    assert arrays["b"].tolist() == [True, False] and arrays["s"].tolist() == ["a", "bc"]


def test_zero_rows_decode_to_an_empty_array() -> None:
    arrays = decode_inputs(_inputs({**V2, "shape": [0, 3], "data": []}, _ids(0)), SIGNATURE)
    assert arrays["input"].shape == (0, 3) and arrays["input"].dtype == np.float32


def test_names_are_checked() -> None:
    unknown = _refused(_inputs(V2, _ids(1), {**V2, "name": "extra"}))
    assert unknown.param == "extra" and "the model takes ['ids', 'input']" in str(unknown)
    twice = _refused(_inputs(V2, V2, _ids(1)))
    assert twice.param == "input" and "given twice" in str(twice)
    missing = _refused(_inputs(V2))
    assert missing.param == "ids" and str(missing) == "Missing input 'ids'."


def test_shapes_and_datatypes_must_be_the_signatures() -> None:
    wrong_rank = _refused(_inputs({**V2, "shape": [3]}, _ids(1)))
    assert wrong_rank.param == "input" and "[-1 (any), 3]" in str(wrong_rank)
    wrong_width = _refused(_inputs({**V2, "shape": [1, 4], "data": [1, 2, 3, 4]}, _ids(1)))
    assert wrong_width.param == "input"
    wrong_type = _refused(_inputs({**V2, "datatype": "FP64"}, _ids(1)))
    assert "datatype FP64, but the model takes FP32" in str(wrong_type)
    rows = _refused(_inputs(V2, _ids(2)))
    assert "disagree on the number of rows" in str(rows)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1.0, 2.0], "2 values do not fill shape [1, 3] (3 values)"),
        ([[1.0, 2.0], [0.0]], "'data' is ragged"),
        (["a", "b", "c"], "values of type 'U' in a FP32 tensor; send numbers"),
        ([True, False, True], "values of type 'b' in a FP32 tensor"),
        ([float("nan"), 0.0, 0.0], "NaN or infinite values"),
        ([float("inf"), 0.0, 0.0], "NaN or infinite values"),
    ],
)
def test_data_must_fill_the_shape_with_finite_numbers(data: list[Any], message: str) -> None:
    tensor = InferInput.model_construct(name="input", shape=[1, 3], datatype="FP32", data=data)
    error = _refused([tensor, *_inputs(_ids(1))])
    assert error.param == "input" and message in str(error)


def test_integers_and_strings_are_not_parsed() -> None:
    error = _refused(_inputs(V2, {**_ids(2), "data": [1.5, 2.0]}))
    assert error.param == "ids" and "send integers" in str(error)
    signature = Signature(inputs=[TensorSpec("s", "BYTES", [1])], outputs=[])
    strings = _refused(
        _inputs({"name": "s", "shape": [1], "datatype": "BYTES", "data": [1]}), signature
    )
    assert "send strings" in str(strings)


def test_too_many_elements_are_refused_before_reading() -> None:
    big = InferInput.model_construct(
        name="input", shape=[tensors.MAX_ELEMENTS, 2], datatype="FP32", data=[]
    )
    signature = Signature(inputs=[TensorSpec("input", "FP32", [-1, 2])], outputs=[])
    error = _refused([big], signature)
    assert error.param == "input" and f"more than {tensors.MAX_ELEMENTS} elements" in str(error)


def test_outputs_encode_flat_with_their_shape() -> None:
    out = encode_output("y", np.array([[1.5, 2.0], [3.0, 4.0]], dtype=np.float32), "FP32")
    assert (out.name, out.shape, out.datatype) == ("y", [2, 2], "FP32")
    assert out.data == [1.5, 2.0, 3.0, 4.0]
    labels = encode_output("label", np.array(["cat", "dog"], dtype=object), "BYTES")
    assert labels.data == ["cat", "dog"] and labels.shape == [2]
    ints = encode_output("n", np.array([1, 2], dtype=np.int64), "INT64")
    assert ints.data == [1, 2] and all(isinstance(v, int) for v in ints.data)

"""Open Inference Protocol tensors <-> NumPy arrays, checked against a model's signature.

Every mismatch is an ``InvalidInput`` naming the input: a missing or unknown name, another
datatype, a shape that is not the signature's, data whose length is not the shape's
product, values of the wrong JSON type (a string in an FP32 tensor is refused, not parsed).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from aimaas.errors import InvalidInput
from aimaas.learn.servable import Signature, TensorSpec
from aimaas.protocol.v2 import InferInput, InferOutput

MAX_ELEMENTS = 16 * 1024 * 1024

_NUMPY: dict[str, Any] = {
    "FP32": np.float32,
    "FP64": np.float64,
    "INT32": np.int32,
    "INT64": np.int64,
    "BOOL": np.bool_,
    "BYTES": object,
}
# NumPy kinds a JSON array may arrive as, per datatype ('b' bool, 'i' int, 'f' float, 'U' str).
_KINDS: dict[str, str] = {
    "FP32": "if",
    "FP64": "if",
    "INT32": "i",
    "INT64": "i",
    "BOOL": "b",
    "BYTES": "U",
}


def _as_array(tensor: InferInput) -> np.ndarray:
    name = tensor.name
    count = math.prod(tensor.shape)
    if count > MAX_ELEMENTS:
        raise InvalidInput(f"Input {name!r}: more than {MAX_ELEMENTS} elements.", param=name)
    try:
        raw = np.array(tensor.data)
    except (ValueError, TypeError):
        raise InvalidInput(
            f"Input {name!r}: 'data' is ragged; send it flat in row-major order, or nested "
            "exactly by 'shape'.",
            param=name,
        ) from None
    if raw.size == 0 and count == 0:
        return np.zeros(tensor.shape, dtype=_NUMPY[tensor.datatype])
    if raw.dtype.kind not in _KINDS[tensor.datatype]:
        raise InvalidInput(
            f"Input {name!r}: values of type {raw.dtype.kind!r} in a {tensor.datatype} tensor; "
            f"send {_describe(tensor.datatype)}.",
            param=name,
        )
    if raw.size != count:
        raise InvalidInput(
            f"Input {name!r}: {raw.size} values do not fill shape {tensor.shape} ({count} values).",
            param=name,
        )
    if tensor.datatype in ("FP32", "FP64") and not np.isfinite(raw).all():
        raise InvalidInput(f"Input {name!r}: NaN or infinite values.", param=name)
    try:
        with np.errstate(over="raise"):  # 1e300 in an FP32 tensor: out of range, not inf
            return raw.astype(_NUMPY[tensor.datatype]).reshape(tensor.shape)
    except (OverflowError, FloatingPointError):
        raise InvalidInput(
            f"Input {name!r}: a value is out of range for {tensor.datatype}.", param=name
        ) from None


def _describe(datatype: str) -> str:
    return {
        "BYTES": "strings",
        "BOOL": "true/false",
        "INT32": "integers",
        "INT64": "integers",
    }.get(datatype, "numbers")


def _check_shape(tensor: InferInput, spec: TensorSpec) -> None:
    wanted = spec.shape
    fits = len(tensor.shape) == len(wanted) and all(
        w == -1 or w == got for w, got in zip(wanted, tensor.shape, strict=True)
    )
    if not fits:
        shown = ["-1 (any)" if w == -1 else str(w) for w in wanted]
        raise InvalidInput(
            f"Input {tensor.name!r}: shape {tensor.shape} does not match the model's "
            f"[{', '.join(shown)}].",
            param=tensor.name,
        )
    if tensor.datatype != spec.datatype:
        raise InvalidInput(
            f"Input {tensor.name!r}: datatype {tensor.datatype}, but the model takes "
            f"{spec.datatype}.",
            param=tensor.name,
        )


def decode_inputs(inputs: list[InferInput], signature: Signature) -> dict[str, np.ndarray]:
    """The request's inputs as arrays by name, each checked against the signature."""
    specs = {spec.name: spec for spec in signature.inputs}
    seen: dict[str, np.ndarray] = {}
    for tensor in inputs:
        spec = specs.get(tensor.name)
        if spec is None:
            raise InvalidInput(
                f"Unknown input {tensor.name!r}; the model takes {sorted(specs)}.",
                param=tensor.name,
            )
        if tensor.name in seen:
            raise InvalidInput(f"Input {tensor.name!r} is given twice.", param=tensor.name)
        _check_shape(tensor, spec)
        seen[tensor.name] = _as_array(tensor)
    missing = sorted(set(specs) - set(seen))
    if missing:
        raise InvalidInput(f"Missing input {missing[0]!r}.", param=missing[0])
    rows = {array.shape[0] for array in seen.values() if array.ndim}
    if len(rows) > 1:
        raise InvalidInput("Inputs disagree on the number of rows (first dimension).")
    return seen


def encode_output(name: str, array: np.ndarray, datatype: str) -> InferOutput:
    data = array.astype(str) if datatype == "BYTES" else array
    return InferOutput(
        name=name, shape=list(array.shape), datatype=datatype, data=data.ravel().tolist()
    )

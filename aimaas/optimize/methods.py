"""The optimization methods, their options and the models each one applies to.

``parse_options`` is the only way in: options are strict pydantic models with explicit
bounds, so ``{"sparsity": 5}`` or an unknown key is refused before any work starts, with
a message naming ``options.<key>``. ``check_applicable`` refuses a method a model's
architecture cannot take (channel pruning of an RNN, ONNX export of a text model).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aimaas.errors import InvalidInput
from aimaas.learn.optimized import METHODS

GraphLevel = Literal["disabled", "basic", "extended", "all"]


class MethodOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _FineTune(MethodOptions):
    fine_tune_epochs: int = Field(
        0,
        ge=0,
        le=100,
        description="an integer in 0..100: epochs of training on the parent's training data "
        "after pruning, at the parent's learning rate",
    )


class QuantizeDynamicOptions(MethodOptions):
    """int8 weights for every Linear, LSTM and GRU; activations quantized on the fly."""


class QuantizeStaticOptions(MethodOptions):
    """int8 weights and activations (CNNs); activation ranges calibrated on training rows."""

    calibration_rows: int = Field(
        512, ge=1, le=100_000, description="an integer in 1..100000: training rows observed"
    )


class PruneOptions(_FineTune):
    """Global magnitude pruning: the smallest weights of all layers together set to zero."""

    sparsity: float = Field(
        0.5,
        gt=0,
        le=0.99,
        allow_inf_nan=False,
        description="a number in (0, 0.99]: the share of prunable weights set to zero",
    )


class PruneStructuredOptions(_FineTune):
    """Channel pruning (CNNs): the output channels with the smallest L1 norm removed."""

    sparsity: float = Field(
        0.5,
        gt=0,
        le=0.99,
        allow_inf_nan=False,
        description="a number in (0, 0.99]: the share of each convolution's channels and "
        "of the dense hidden units removed (at least one of each stays)",
    )


class ExportOnnxOptions(MethodOptions):
    """The network as an ONNX graph, run by onnxruntime."""

    graph_optimization: GraphLevel = Field(
        "all", description="onnxruntime's graph optimization level: disabled, basic, "
        "extended or all",
    )  # fmt: skip


OPTIONS: dict[str, type[MethodOptions]] = {
    "quantize_dynamic": QuantizeDynamicOptions,
    "quantize_static": QuantizeStaticOptions,
    "prune": PruneOptions,
    "prune_structured": PruneStructuredOptions,
    "export_onnx": ExportOnnxOptions,
}
assert tuple(OPTIONS) == METHODS, "every method has its options"

# What each method can work on. Word2vec is an embedding table: nothing to quantize or
# prune that would make it faster.
DENSE = frozenset({"linear_regression", "logistic_regression", "mlp", "cnn", "rnn", "transformer"})
ALGORITHMS: dict[str, frozenset[str]] = {
    "quantize_dynamic": DENSE,
    "quantize_static": frozenset({"cnn"}),
    "prune": DENSE,
    "prune_structured": frozenset({"cnn"}),
    "export_onnx": DENSE,
}


def parse_options(method: str, raw: Any) -> MethodOptions:
    """``raw`` (a request's ``options``) checked against ``method``'s options."""
    model = OPTIONS.get(method)
    if model is None:
        raise InvalidInput(
            f"Unknown method {method!r}; use one of: {', '.join(METHODS)}.", param="method"
        )
    if not isinstance(raw, dict):
        raise InvalidInput("options must be a JSON object.", param="options")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = [str(part) for part in error["loc"]]
        field = loc[0] if loc else ""
        if error["type"] == "extra_forbidden":
            known = ", ".join(sorted(model.model_fields)) or "none"
            raise InvalidInput(
                f"options.{field} is not an option of {method}; known: {known}.",
                param=f"options.{field}",
            ) from None
        info = model.model_fields.get(field)
        allowed = f"; allowed: {info.description}" if info and info.description else ""
        message = str(error["msg"]).removeprefix("Value error, ")
        raise InvalidInput(
            f"options.{field}: {message}{allowed} (got {error['input']!r}).",
            param=f"options.{field}" if field else "options",
        ) from None


def check_applicable(method: str, spec: dict[str, Any]) -> None:
    """InvalidInput(param="method") unless ``method`` can optimize the model whose
    ``model.json`` is ``spec``."""
    algorithm = spec.get("algorithm")
    previous = spec.get("optimization") or {}
    if previous.get("method") in ("quantize_dynamic", "quantize_static", "export_onnx"):
        raise InvalidInput(
            f"This version was made by {previous['method']}; optimize a float version "
            "(a trained or pruned one) instead.",
            param="model",
        )
    if algorithm not in ALGORITHMS[method]:
        takes = ", ".join(sorted(ALGORITHMS[method]))
        raise InvalidInput(
            f"{method} does not apply to a {algorithm} model; it takes: {takes}.",
            param="method",
        )
    kind = (spec.get("preprocessing") or {}).get("kind")
    if method == "export_onnx" and kind == "text":
        raise InvalidInput(
            "export_onnx takes models on tables, tensors and images; text models (token "
            "ids of varying length) stay on PyTorch: try quantize_dynamic.",
            param="method",
        )


def describe() -> list[dict[str, Any]]:
    """Each method with the algorithms it takes and the JSON Schema of its options."""
    return [
        {
            "method": name,
            "description": (model.__doc__ or "").strip(),
            "algorithms": sorted(ALGORITHMS[name]),
            "options": model.model_json_schema(),
        }
        for name, model in OPTIONS.items()
    ]

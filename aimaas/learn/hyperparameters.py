"""Hyperparameters of every algorithm: one strict pydantic model each.

``parse`` is the only way in. Every bound is explicit, so a request for 10**9 epochs or a
NaN learning rate is refused before any work starts, with a message that names the field
and what it accepts. Fields are strict: ``"5"`` is not 5 and ``true`` is not 1.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from aimaas.errors import InvalidInput

TaskChoice = Literal["auto", "classification", "regression"]


def _int(default: int | None, low: int, high: int) -> Any:
    return Field(default, ge=low, le=high, description=f"an integer in {low}..{high}")


def _rate(default: float, high: float = 10.0) -> Any:
    return Field(
        default, gt=0, le=high, allow_inf_nan=False, description=f"a number in (0, {_show(high)}]"
    )


def _amount(default: float, high: float) -> Any:
    return Field(
        default, ge=0, le=high, allow_inf_nan=False, description=f"a number in [0, {_show(high)}]"
    )


def _show(number: float) -> str:
    return str(int(number)) if number == int(number) else str(number)


LayerSize = Annotated[int, Field(ge=1, le=4096)]
Channels = Annotated[int, Field(ge=1, le=1024)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Training(_Strict):
    """What every gradient-trained model shares. ``patience``: stop after that many epochs
    without a lower validation loss (training loss without validation data) and keep the
    best epoch's weights; None trains every epoch and keeps the last."""

    epochs: int = _int(20, 1, 10_000)
    batch_size: int = _int(64, 1, 65_536)
    learning_rate: float = _rate(1e-3)
    patience: int | None = _int(None, 1, 10_000)


class _Network(Training):
    weight_decay: float = _amount(0.0, 10.0)
    dropout: float = _amount(0.1, 0.9)
    task: TaskChoice = "auto"


class _TextInput(_Strict):
    max_vocab: int = _int(20_000, 1, 1_000_000)
    min_count: int = _int(1, 1, 1_000_000)
    max_length: int = _int(256, 1, 10_000)


class LinearRegressionHyperparameters(Training):
    solver: Literal["normal_equation", "gradient_descent"] = "normal_equation"
    l2: float = _amount(0.0, 1e6)  # ridge alpha on standardized features
    epochs: int = _int(200, 1, 10_000)
    batch_size: int = _int(32, 1, 65_536)
    learning_rate: float = _rate(0.01)


class LogisticRegressionHyperparameters(Training):
    solver: Literal["lbfgs", "gradient_descent"] = "lbfgs"
    l2: float = _amount(1.0, 1e6)  # 1 / C in scikit-learn's terms
    max_iter: int = _int(1000, 1, 100_000)  # L-BFGS iterations
    epochs: int = _int(100, 1, 10_000)
    batch_size: int = _int(32, 1, 65_536)
    learning_rate: float = _rate(0.01)


class MLPHyperparameters(_Network):
    hidden_sizes: list[LayerSize] = Field(
        default_factory=lambda: [128, 64],
        min_length=1,
        max_length=16,
        description="1 to 16 layer sizes, each an integer in 1..4096",
    )
    epochs: int = _int(100, 1, 10_000)


class CNNHyperparameters(_Network):
    channels: list[Channels] = Field(
        default_factory=lambda: [32, 64],
        min_length=1,
        max_length=8,
        description="1 to 8 convolution widths, each an integer in 1..1024",
    )
    kernel_size: int = Field(3, ge=1, le=15, description="an odd integer in 1..15")
    hidden_size: int = _int(128, 1, 4096)
    dropout: float = _amount(0.25, 0.9)

    @field_validator("kernel_size")
    @classmethod
    def _odd_kernel(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError("must be odd, so that padding keeps the image size")
        return value


class RNNHyperparameters(_Network, _TextInput):
    cell: Literal["lstm", "gru"] = "lstm"
    embedding_dim: int = _int(64, 1, 4096)
    hidden_size: int = _int(128, 1, 4096)
    num_layers: int = _int(1, 1, 8)
    bidirectional: bool = False
    dropout: float = _amount(0.0, 0.9)
    max_grad_norm: float = _amount(1.0, 1e6)  # 0 turns gradient clipping off
    batch_size: int = _int(32, 1, 65_536)
    learning_rate: float = _rate(3e-3)


class TransformerHyperparameters(_Network, _TextInput):
    d_model: int = _int(64, 1, 1024)
    num_heads: int = _int(4, 1, 64)
    num_layers: int = _int(2, 1, 24)
    dim_feedforward: int = _int(128, 1, 8192)
    positional_encoding: Literal["sinusoidal", "learned"] = "sinusoidal"
    max_grad_norm: float = _amount(1.0, 1e6)
    epochs: int = _int(30, 1, 10_000)
    batch_size: int = _int(32, 1, 65_536)

    @field_validator("num_heads")
    @classmethod
    def _heads_divide_width(cls, value: int, info: ValidationInfo) -> int:
        d_model = info.data.get("d_model")
        if isinstance(d_model, int) and d_model % value:
            raise ValueError(f"must divide d_model ({d_model})")
        return value


class Word2VecHyperparameters(Training, _TextInput):
    embedding_dim: int = _int(64, 1, 1024)
    window: int = _int(2, 1, 20)
    negatives: int = _int(5, 1, 100)
    epochs: int = _int(5, 1, 10_000)
    batch_size: int = _int(256, 1, 65_536)
    learning_rate: float = _rate(0.01)


MODELS: dict[str, type[_Strict]] = {
    "linear_regression": LinearRegressionHyperparameters,
    "logistic_regression": LogisticRegressionHyperparameters,
    "mlp": MLPHyperparameters,
    "cnn": CNNHyperparameters,
    "rnn": RNNHyperparameters,
    "transformer": TransformerHyperparameters,
    "word2vec": Word2VecHyperparameters,
}


def parse(algorithm: str, raw: dict[str, Any]) -> BaseModel:
    """``raw`` (a request's ``hyperparameters`` object) checked against ``algorithm``'s
    model; missing fields take their defaults."""
    model = MODELS.get(algorithm)
    if model is None:
        raise InvalidInput(
            f"Unknown algorithm {algorithm!r}; use one of: {', '.join(MODELS)}.",
            param="algorithm",
        )
    if not isinstance(raw, dict):
        raise InvalidInput("hyperparameters must be a JSON object.", param="hyperparameters")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise _invalid(algorithm, model, exc) from None


def _invalid(algorithm: str, model: type[BaseModel], exc: ValidationError) -> InvalidInput:
    error = exc.errors()[0]
    loc = [part for part in error["loc"] if part != "__root__"]
    field = str(loc[0]) if loc else ""
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
    if error["type"] == "extra_forbidden":
        known = ", ".join(sorted(model.model_fields))
        return InvalidInput(
            f"hyperparameters.{field} is not a hyperparameter of {algorithm}; known: {known}.",
            param=f"hyperparameters.{field}",
        )
    info = model.model_fields.get(field)
    allowed = f"; allowed: {info.description}" if info and info.description else ""
    message = str(error["msg"]).removeprefix("Value error, ")
    got = f" (got {error['input']!r})" if loc else ""
    return InvalidInput(
        f"hyperparameters{where}: {message}{allowed}{got}.",
        param=f"hyperparameters.{field}" if field else "hyperparameters",
    )

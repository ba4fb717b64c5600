"""Serving a trained model: ``ModelPredictor`` implements ``servable.Predictor``.

``prepare_*`` checks and decodes one request's rows into model-input arrays (raw numbers
as float64, images as float64 pixels, texts as int64 token ids), raising InvalidInput
that names the instance or input. ``run`` standardizes, pads token ids with a mask and
runs one forward pass for a whole dynamic batch, in eval mode under inference_mode.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from aimaas.errors import InvalidInput
from aimaas.learn.examples import pad
from aimaas.learn.preprocessing import UNKNOWN
from aimaas.learn.specs import ModelDescription
from aimaas.uploads.images import decode_image


class ModelPredictor:
    def __init__(self, spec: ModelDescription, network: nn.Module) -> None:
        self.algorithm = spec.algorithm
        self.task = spec.task
        self.signature = spec.signature
        labels = spec.encoding.labels
        self.labels: list[Any] | None = None if labels is None else list(labels.classes)
        self._spec, self._encoding, self._network = spec, spec.encoding, network.eval()
        self._input = self.signature.inputs[0].name
        self._check_outputs()

    # --- per request -------------------------------------------------------------------

    def prepare_instances(self, instances: list[Any]) -> list[np.ndarray]:
        return [self._instance(value, f"instances[{i}]") for i, value in enumerate(instances)]

    def prepare_v2(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        for name in inputs:
            if name != self._input:
                raise InvalidInput(
                    f"Unknown input {name!r}; this model takes {self._input!r}.", param=name
                )
        if self._input not in inputs:
            raise InvalidInput(f"Missing input {self._input!r}.", param=self._input)
        array = np.asarray(inputs[self._input])
        if self._encoding.kind == "text":
            if array.ndim != 1:
                raise InvalidInput(
                    f"Input 'text' must be shaped [-1]; got {list(array.shape)}.", param="text"
                )
            return [self._text(value, "text") for value in array.tolist()]
        shape = self._encoding.item_shape
        if array.ndim != len(shape) + 1 or tuple(array.shape[1:]) != shape:
            raise InvalidInput(
                f"Input {self._input!r} must be shaped {[-1, *shape]}; got {list(array.shape)}.",
                param=self._input,
            )
        return list(self._numbers(array, self._input))

    # --- per batch ---------------------------------------------------------------------

    def run(self, items: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
        if not items:
            return []
        with torch.inference_mode():
            if self._encoding.kind == "text":
                ids, lengths = pad(items)  # (B, T), (B,)
                out: Tensor = self._network(ids, lengths)
            else:
                out = self._network(self._encoding.features(np.stack(items)), None)
        return self._outputs(out)

    def describe(self, output: dict[str, np.ndarray]) -> dict[str, Any]:
        if self.task == "classification":
            assert self.labels is not None
            k = int(np.argmax(output["probabilities"]))
            probabilities = output["probabilities"].tolist()
            return {
                "label": self.labels[k],
                "probabilities": {
                    str(label): p for label, p in zip(self.labels, probabilities, strict=True)
                },
            }
        if self.task == "regression":
            return {"value": float(output["prediction"])}
        return {"embedding": output["embedding"].tolist()}

    # --- helpers -----------------------------------------------------------------------

    def _outputs(self, out: Tensor) -> list[dict[str, np.ndarray]]:
        if self.task == "classification":
            assert self.labels is not None
            probabilities = torch.softmax(out.float(), dim=1).numpy()  # (B, K)
            integer = self.signature.outputs[1].datatype == "INT64"
            return [
                {
                    "probabilities": row,
                    "label": np.array(self.labels[int(row.argmax())], dtype=np.int64)
                    if integer
                    else np.array(str(self.labels[int(row.argmax())]), dtype=object),
                }
                for row in probabilities
            ]
        if self.task == "regression":
            assert self._encoding.target is not None
            values = self._encoding.target.restore(out[:, 0].numpy())  # (B,)
            return [{"prediction": np.array(value, dtype=np.float32)} for value in values]
        vectors = out.float().numpy()  # (B, D)
        return [{"embedding": row} for row in vectors]

    def _instance(self, value: Any, param: str) -> np.ndarray:
        kind = self._encoding.kind
        if kind == "text":
            if isinstance(value, list) and all(isinstance(word, str) for word in value):
                value = " ".join(value)
            return self._text(value, param)
        if kind == "images" and isinstance(value, str | dict):
            return self._image(value, param)
        if kind == "table" and isinstance(value, dict):
            return self._row(value, param)
        if not isinstance(value, list):
            raise InvalidInput(f"{param}: {self._expected()}.", param=param)
        try:
            array = np.asarray(value)
        except ValueError:
            raise InvalidInput(f"{param} is ragged; {self._expected()}.", param=param) from None
        shape = self._encoding.item_shape
        if array.shape != shape:
            raise InvalidInput(
                f"{param} has shape {list(array.shape)}; {self._expected()}.", param=param
            )
        return self._numbers(array, param)

    def _expected(self) -> str:
        kind, shape = self._encoding.kind, list(self._encoding.item_shape)
        if kind == "text":
            return "send a string"
        if kind == "images":
            return f'send a base64 PNG or JPEG, {{"b64": "..."}}, or {shape} pixels 0..255'
        if kind == "table" and self._encoding.feature_names:
            names = self._encoding.feature_names
            return f"send an object with the columns {names} or {shape[0]} numbers"
        return f"send numbers shaped {shape}"

    def _numbers(self, array: np.ndarray, param: str) -> np.ndarray:
        if array.dtype.kind not in "iuf":
            raise InvalidInput(f"{param}: values must be numbers; {self._expected()}.", param=param)
        values = array.astype(np.float64)
        if not np.isfinite(values).all():
            raise InvalidInput(f"{param}: NaN or infinite values.", param=param)
        if self._encoding.kind == "images" and ((values < 0).any() or (values > 255).any()):
            raise InvalidInput(f"{param}: pixel values must be in 0..255.", param=param)
        return self._in_range(values, param)

    def _in_range(self, values: np.ndarray, param: str) -> np.ndarray:
        """Refuse values that the network's float32 input cannot hold once standardized
        (1e308 would become inf, then NaN probabilities): per item, before batching."""
        scaler = self._encoding.scaler
        if scaler is not None and values.size:
            one = values.shape == self._encoding.item_shape  # an item, or a v2 batch of them
            items = values[None] if one else values
            if self._encoding.layout == "flat":
                items = items.reshape(items.shape[0], -1)
            with np.errstate(over="ignore"):
                scaled = scaler.transform(items)
            if not np.isfinite(scaled).all():
                raise InvalidInput(
                    f"{param}: a value is too large for the model (float32 once scaled).",
                    param=param,
                )
        return values

    def _row(self, row: dict[str, Any], param: str) -> np.ndarray:
        names = self._encoding.feature_names or []
        missing = [name for name in names if name not in row]
        unknown = [name for name in row if name not in set(names)]
        if missing or unknown:
            problem = f"missing columns {missing}" if missing else f"unknown columns {unknown}"
            raise InvalidInput(f"{param} has {problem}; the model reads {names}.", param=param)
        values = [row[name] for name in names]
        for name, value in zip(names, values, strict=True):
            if (
                not isinstance(value, int | float)
                or isinstance(value, bool)
                or not math.isfinite(value)
            ):
                raise InvalidInput(
                    f"{param}: column {name!r} must be a finite number.", param=param
                )
        return self._in_range(np.asarray(values, dtype=np.float64), param)

    def _image(self, value: str | dict[str, Any], param: str) -> np.ndarray:
        if isinstance(value, dict):
            if set(value) != {"b64"} or not isinstance(value["b64"], str):
                raise InvalidInput(f'{param}: send {{"b64": "<base64 image>"}}.', param=param)
            value = value["b64"]
        if value.startswith("data:") and "," in value:
            value = value.split(",", 1)[1]  # a data URL
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput(f"{param} is not valid base64.", param=param) from None
        height, width, _ = self._encoding.item_shape
        image = decode_image(
            data, mode=self._encoding.image_mode, size=(height, width), param=param
        )
        return image.astype(np.float64)

    def _text(self, value: Any, param: str) -> np.ndarray:
        if isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidInput(f"{param} is not UTF-8 text.", param=param) from None
        if not isinstance(value, str):
            raise InvalidInput(f"{param}: {self._expected()}.", param=param)
        ids = self._encoding.tokens(value, known_only=self.task == "embedding")
        if len(ids) == 0:
            raise InvalidInput(
                f"{param}: none of its words is in the model's vocabulary, so it has no "
                "embedding; send text with known words.",
                param=param,
            )
        return ids

    def _check_outputs(self) -> None:
        """One dummy row through the network: the config must fit the preprocessing."""
        if self._encoding.kind == "text":
            item = np.array([UNKNOWN], dtype=np.int64)
        else:
            item = np.zeros(self._encoding.item_shape, dtype=np.float64)
        try:
            with torch.inference_mode():
                if self._encoding.kind == "text":
                    out = self._network(*pad([item]))
                else:
                    out = self._network(self._encoding.features(item[None]), None)
        except (RuntimeError, ValueError, IndexError) as exc:
            raise ValueError(
                f"model spec: the network does not fit its preprocessing: {exc}"
            ) from None
        if tuple(out.shape) != (1, self._spec.output_size):
            expected = [1, self._spec.output_size]
            raise ValueError(f"model spec: the network answers {list(out.shape)}, not {expected}")

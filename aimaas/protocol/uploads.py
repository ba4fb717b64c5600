"""Registering a model version from files uploaded with ``purpose: "model"``."""

from __future__ import annotations

from pydantic import Field

from aimaas.protocol.common import Strict


class UploadedModelRegister(Strict):
    """``POST /v1/models``: a GGUF file alone, or safetensors / ONNX weights with their
    ``model.json`` description, registered as a new version of the caller's model."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    file: str = Field(
        min_length=1, max_length=64, description="Id of the weights: safetensors, GGUF or ONNX."
    )
    description_file: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="Id of the model.json that describes safetensors or ONNX weights.",
    )
    chat_template: str | None = Field(
        None,
        min_length=1,
        max_length=65_536,
        description="GGUF only: a Jinja chat template to use instead of the model's own.",
    )

"""Uploaded model files (``purpose: "model"``): judged by their content, checked against
hostile input before anything reads a tensor, and summarised for the registry.

Four kinds are accepted: safetensors weights, GGUF, ONNX, and the ``model.json`` description
that goes with safetensors or ONNX weights. A pickle (or a ``torch.save`` zip, which holds
one) called ``model.safetensors`` is refused without a byte of it being unpickled, and so is
anything else that is none of the four.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field

from aimaas.learn.descriptions import DescriptionSummary, check_description
from aimaas.uploads.gguf_files import GgufSummary, check_gguf
from aimaas.uploads.limits import UploadLimits
from aimaas.uploads.onnx_files import OnnxSummary, check_onnx
from aimaas.uploads.safetensors_files import SafetensorsSummary, check_safetensors
from aimaas.uploads.sniff import MODEL_FORMATS_HINT, read_head, sniff_model

ModelSummary = Annotated[
    SafetensorsSummary | GgufSummary | OnnxSummary | DescriptionSummary,
    Field(discriminator="format"),
]


def inspect_model_upload(
    path: Path, filename: str, *, limits: UploadLimits = UploadLimits()
) -> ModelSummary:
    """Check an uploaded model file and summarise it.

    The format is judged from the content; ``filename`` only sharpens an error message."""
    kind = sniff_model(read_head(path, MODEL_FORMATS_HINT), filename)
    if kind == "safetensors":
        return check_safetensors(path, limits)
    if kind == "gguf":
        return check_gguf(path)
    if kind == "onnx":
        return check_onnx(path, limits)
    return check_description(path, limits)

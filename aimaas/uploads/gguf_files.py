"""GGUF files, checked by ``aimaas.engine.gguf.read_gguf(tensors=True)`` the way ggml checks
them: magic, version, bounded counts, tensor names, dims, types and offsets."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from aimaas.engine.gguf import read_gguf
from aimaas.errors import InvalidInput
from aimaas.uploads.refusal import refused


class GgufSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    format: Literal["gguf"] = "gguf"
    architecture: str
    tensors: int
    parameters: int | None  # None only when read without tensors
    chat_template: bool
    context_length: int | None


def check_gguf(path: Path) -> GgufSummary:
    try:
        info = read_gguf(path, tensors=True)
    except InvalidInput as exc:
        raise refused(exc.message) from None
    return GgufSummary(
        architecture=info.architecture[:64],
        tensors=info.tensor_count,
        parameters=info.parameters,
        chat_template=info.chat_template is not None,
        context_length=info.context_length,
    )

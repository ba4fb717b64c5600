"""What the registry says about a servable model, as one typed value."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Runtime = Literal["llama.cpp", "sentence-transformers", "transformers", "torch"]
Capability = Literal["chat", "completions", "embeddings", "predict"]

FORMAT_RUNTIMES: dict[str, Runtime] = {
    "gguf": "llama.cpp",
    "sentence-transformers": "sentence-transformers",
    "transformers": "transformers",
    "aimaas-torch": "torch",  # trained here: safetensors weights + a JSON description
    "aimaas-onnx": "torch",  # optimized here: an ONNX graph + the same JSON, on onnxruntime
}


@dataclass(frozen=True)
class ServingOptions:
    """Per-model overrides of the engine settings; None means 'use the engine default'."""

    context_length: int | None = None
    parallel: int | None = None
    threads: int | None = None
    max_queue: int | None = None
    keep_alive_seconds: float | None = None
    chat_template: str | None = None  # replaces the model's own

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class ModelSpec:
    version_id: str  # identity of what is loaded: a new version is a new model in memory
    name: str
    runtime: Runtime
    capabilities: frozenset[Capability]
    source: dict[str, Any]
    options: ServingOptions = field(default_factory=ServingOptions)
    license: str | None = None
    version: int = 1
    tenant_id: str | None = None  # the owner (None: shared), bound into its stored artifacts

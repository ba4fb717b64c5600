"""A Hugging Face model folder, read without loading the model: precision, context,
memory."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from aimaas.cpu import this_cpu

DType = Literal["bfloat16", "float32"]
PAGE_SIZE = 256  # tokens per KV-cache block
MAX_BATCH_TOKENS = 1024  # prompt tokens one step may prefill (longer prompts are split)
_HALF_DTYPES = {"bfloat16", "float16"}


@dataclass(frozen=True)
class TransformersConfig:
    path: Path
    context_length: int  # per sequence, capped by the model's position embeddings
    parallel: int
    threads: int
    max_queue: int
    chat_template: str | None = None  # replaces the tokenizer's own


# --- Reading the folder, without loading the model --------------------------------------------


def read_model_config(path: Path) -> dict[str, Any]:
    """``config.json``, with a multimodal model's ``text_config`` folded in."""
    config: dict[str, Any] = json.loads((path / "config.json").read_text())
    text = config.get("text_config")
    return {**config, **text} if isinstance(text, dict) else config


def _stored_dtype(config: dict[str, Any]) -> str:
    return str(config.get("dtype") or config.get("torch_dtype") or "float32")


def serving_dtype(config: dict[str, Any], *, bf16_cpu: bool) -> DType:
    """bfloat16 for a 16-bit checkpoint on a CPU with native bfloat16; float32 otherwise.

    A float32 checkpoint stays float32: it is served at the precision it was saved in, and
    float32 keeps greedy outputs the same whether a sequence runs alone or batched.
    """
    return "bfloat16" if bf16_cpu and _stored_dtype(config) in _HALF_DTYPES else "float32"


def model_context(config: dict[str, Any], wanted: int) -> int:
    """The context to serve: what was asked, at most the model's position embeddings."""
    limit = config.get("max_position_embeddings")
    return min(wanted, limit) if isinstance(limit, int) and limit > 0 else wanted


def kv_bytes_per_token(config: dict[str, Any], itemsize: int) -> int:
    heads = int(config.get("num_attention_heads") or 1)
    head_dim = int(config.get("head_dim") or int(config.get("hidden_size") or 0) // heads)
    kv_heads = int(config.get("num_key_value_heads") or heads)
    return int(config.get("num_hidden_layers") or 0) * 2 * kv_heads * head_dim * itemsize


def cache_blocks(context_length: int, parallel: int) -> int:
    """KV-cache blocks for ``parallel`` full-length sequences (one spare block each)."""
    return parallel * (math.ceil(context_length / PAGE_SIZE) + 1)


def estimate_memory_bytes(path: Path, context_length: int, parallel: int) -> int:
    """Weights at the serving precision plus the KV cache of every slot."""
    config = read_model_config(path)
    itemsize = 2 if serving_dtype(config, bf16_cpu=this_cpu().native_bf16) == "bfloat16" else 4
    stored_itemsize = 2 if _stored_dtype(config) in _HALF_DTYPES else 4
    weights = sum(f.stat().st_size for f in path.rglob("*.safetensors"))
    tokens = cache_blocks(model_context(config, context_length), parallel) * PAGE_SIZE
    return weights * itemsize // stored_itemsize + tokens * kv_bytes_per_token(config, itemsize)

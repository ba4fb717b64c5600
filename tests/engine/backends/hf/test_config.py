"""hf/config.py: a model folder read without loading it: the text config of a multimodal
model, the serving precision, the context served, KV-cache sizes and the memory estimate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aimaas.cpu import this_cpu
from aimaas.engine.backends.hf.config import (
    PAGE_SIZE,
    cache_blocks,
    estimate_memory_bytes,
    kv_bytes_per_token,
    model_context,
    read_model_config,
    serving_dtype,
)

LLAMA = {
    "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
    "hidden_size": 64, "max_position_embeddings": 1024,
}  # fmt: skip


def folder(tmp_path: Path, config: dict[str, Any], weights: dict[str, int]) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "config.json").write_text(json.dumps(config))
    for name, size in weights.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(bytes(size))
    return tmp_path


def test_a_multimodal_config_has_its_text_config_folded_in(tmp_path: Path) -> None:
    config = {"model_type": "gemma3", "hidden_size": 1, "text_config": {"hidden_size": 640}}
    read = read_model_config(folder(tmp_path, config, {}))
    assert read["hidden_size"] == 640 and read["model_type"] == "gemma3"
    plain = read_model_config(folder(tmp_path, {"hidden_size": 8, "text_config": None}, {}))
    assert plain["hidden_size"] == 8


@pytest.mark.parametrize(
    ("config", "bf16_cpu", "dtype"),
    [
        ({"dtype": "bfloat16"}, True, "bfloat16"),
        ({"torch_dtype": "float16"}, True, "bfloat16"),  # the older key
        ({"dtype": "float32"}, True, "float32"),  # served at the precision it was saved in
        ({}, True, "float32"),
        ({"dtype": "bfloat16"}, False, "float32"),  # no native bfloat16 on this CPU
    ],
)
def test_half_precision_only_for_half_checkpoints_on_bf16_cpus(
    config: dict[str, Any], bf16_cpu: bool, dtype: str
) -> None:
    assert serving_dtype(config, bf16_cpu=bf16_cpu) == dtype


def test_the_context_is_what_was_asked_within_the_position_embeddings() -> None:
    assert model_context(LLAMA, 4096) == 1024
    assert model_context(LLAMA, 512) == 512
    assert model_context({}, 4096) == 4096
    assert model_context({"max_position_embeddings": 0}, 4096) == 4096
    assert model_context({"max_position_embeddings": "1024"}, 4096) == 4096


def test_kv_bytes_per_token_count_layers_kv_heads_and_head_size() -> None:
    # 2 layers x (K and V) x 2 kv heads x 16 dims (64 / 4) x 4 bytes
    assert kv_bytes_per_token(LLAMA, 4) == 2 * 2 * 2 * 16 * 4
    assert kv_bytes_per_token({**LLAMA, "head_dim": 32}, 2) == 2 * 2 * 2 * 32 * 2
    no_gqa = {k: v for k, v in LLAMA.items() if k != "num_key_value_heads"}
    assert kv_bytes_per_token(no_gqa, 4) == 2 * 2 * 4 * 16 * 4  # every head keeps K and V
    assert kv_bytes_per_token({}, 4) == 0


def test_cache_blocks_hold_every_slot_at_full_length_with_a_spare() -> None:
    assert cache_blocks(PAGE_SIZE, 1) == 2
    assert cache_blocks(PAGE_SIZE + 1, 2) == 2 * 3
    assert cache_blocks(1, 4) == 4 * 2


def test_the_estimate_is_weights_at_serving_precision_plus_every_slots_cache(
    tmp_path: Path,
) -> None:
    weights = {"model-1.safetensors": 3000, "sub/model-2.safetensors": 1000, "other.bin": 99}
    f32 = folder(tmp_path / "f32", {**LLAMA, "dtype": "float32"}, weights)
    tokens = cache_blocks(1024, 2) * PAGE_SIZE  # asked 4096: the model's 1024 is served
    assert estimate_memory_bytes(f32, 4096, 2) == 4000 + tokens * kv_bytes_per_token(LLAMA, 4)
    bf16 = folder(tmp_path / "bf16", {**LLAMA, "dtype": "bfloat16"}, weights)
    if this_cpu().native_bf16:  # served as stored
        expected = 4000 + tokens * kv_bytes_per_token(LLAMA, 2)
    else:  # served in float32: twice the bytes of the file
        expected = 8000 + tokens * kv_bytes_per_token(LLAMA, 4)
    assert estimate_memory_bytes(bf16, 4096, 2) == expected

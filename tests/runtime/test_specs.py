"""Serving options: only the overrides given are kept (the rest is the engine's default)."""

from __future__ import annotations

import dataclasses

import pytest

from aimaas.runtime.specs import FORMAT_RUNTIMES, ModelSpec, ServingOptions


def test_only_the_overrides_given_are_kept() -> None:
    assert ServingOptions().as_dict() == {}
    options = ServingOptions(parallel=2, chat_template="{{ x }}")
    assert options.as_dict() == {"parallel": 2, "chat_template": "{{ x }}"}
    assert ServingOptions(**options.as_dict()) == options


def test_a_spec_is_frozen_and_its_version_id_is_its_identity() -> None:
    spec = ModelSpec("v-1", "m", "llama.cpp", frozenset({"chat"}), {"path": "/m.gguf"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.name = "n"  # type: ignore[misc]
    assert spec.options == ServingOptions() and spec.tenant_id is None
    assert set(FORMAT_RUNTIMES) >= {"gguf", "aimaas-torch", "aimaas-onnx"}

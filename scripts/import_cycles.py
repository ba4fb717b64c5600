"""List the import cycles between aimaas's packages (aimaas/<package>/), read with ``ast``.

    python scripts/import_cycles.py [--edges]

Every import counts, including those inside functions and under TYPE_CHECKING: a package
that needs another, even lazily, depends on it. Modules directly in aimaas/ (config.py,
errors.py, crypto.py, ...) are leaves anyone may import and are left out. Exits 1 when a
pair of packages import each other, printing each pair with the lines that do it.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "aimaas"


def _imported(tree: ast.Module, module: tuple[str, ...]) -> list[tuple[str, int]]:
    """(dotted name, line) of everything ``module`` imports, relative imports resolved
    (``module``: its path's parts, ``__init__`` included, so its package is ``[:-1]``)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module[: len(module) - node.level]
                name = ".".join(base + ((node.module,) if node.module else ()))
            else:
                name = node.module or ""
            found.append((name, node.lineno))
    return found


def package_edges() -> dict[tuple[str, str], list[str]]:
    """(importer, imported) -> the "path:line" places that make the edge."""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        if len(parts) < 3:
            continue  # a top-level module, not a package
        source = parts[1]
        tree = ast.parse(path.read_text(), str(path))
        for name, line in _imported(tree, parts):
            target = name.split(".")
            package = target[1] if len(target) > 1 and target[0] == "aimaas" else source
            if package != source and (ROOT / package).is_dir():  # a package, not a module
                edges[(source, package)].append(f"{path.relative_to(ROOT.parent)}:{line}")
    return edges


def main(argv: list[str]) -> int:
    edges = package_edges()
    if "--edges" in argv:
        for importer, imported in sorted(edges):
            print(f"{importer} -> {imported}")
    cycles = sorted((a, b) for a, b in edges if a < b and (b, a) in edges)
    for a, b in cycles:
        print(f"{a} <-> {b}")
        for where in edges[(a, b)]:
            print(f"    {a} -> {b}: {where}")
        for where in edges[(b, a)]:
            print(f"    {b} -> {a}: {where}")
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

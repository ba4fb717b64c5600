"""stored_references: every artifact a row names, with its owner."""

from __future__ import annotations

from pathlib import Path

from aimaas.registry.store.references import Reference, stored_references
from tests.registry.store.filled import fill_without_key


def test_every_artifact_a_row_names_once(tmp_path: Path) -> None:
    filled = fill_without_key(tmp_path / "data")
    db = filled.database()
    try:
        with db.session() as session:
            found = stored_references(session)
    finally:
        db.dispose()
    expected = {Reference(item.digest, item.owner) for item in filled.stored}
    assert len(expected) == 13  # 5 uploads, 2 x 2 iris files, smol, shared, report + plot
    assert set(found) == expected and len(found) == len(expected)
    assert [ref.digest for ref in found] == sorted(ref.digest for ref in found)
    kinds = {ref.owner.kind for ref in found}
    assert kinds == {"file", "model", "report"}
    shared = [ref for ref in found if ref.digest == filled.stored[0].digest]
    assert len(shared) == 2  # two uploads of the same bytes: two owners of one object

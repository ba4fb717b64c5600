"""runtime/files.py: uploads inspected, stored, paged and fetched as wire objects."""

from __future__ import annotations

from pathlib import Path

import pytest

from aimaas.errors import InvalidInput, NotFound
from aimaas.protocol.files import FileObject
from aimaas.registry import repository
from aimaas.registry.db import Database
from aimaas.registry.files import FileQuery
from aimaas.registry.store import ArtifactStore, PlainStore
from aimaas.runtime import files


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    store = PlainStore(tmp_path / "artifacts")
    store.prepare()
    return store


def _tenant(db: Database, name: str) -> str:
    with db.session() as session:
        return repository.create_tenant(session, name=name).id


def _upload(db: Database, store: ArtifactStore, tenant_id: str, path: Path) -> FileObject:
    details = files.inspect_file(path, path.name, "training")
    return files.store_upload(
        db,
        store,
        tenant_id=tenant_id,
        source=path,
        filename=path.name,
        purpose="training",
        details=details,
    )


def test_an_upload_is_answered_as_the_file_object_it_lists_and_gets_as(
    db: Database, store: ArtifactStore, tmp_path: Path
) -> None:
    tenant = _tenant(db, "acme")
    csv = tmp_path / "rows.csv"
    csv.write_text("x,label\n1,a\n2,b\n3,a\n")
    stored = _upload(db, store, tenant, csv)
    assert stored.object == "file" and stored.bytes == csv.stat().st_size
    assert stored.filename == "rows.csv" and stored.purpose == "training"
    assert stored.details is not None and stored.details["format"] == "csv"
    assert files.get_file(db, tenant_id=tenant, file_id=stored.id) == stored
    assert files.list_files(db, FileQuery(tenant)).data == [stored]


def test_pages_say_where_they_end_and_whether_more_follow(
    db: Database, store: ArtifactStore, tmp_path: Path
) -> None:
    tenant = _tenant(db, "acme")
    uploaded = []
    for n in range(3):
        csv = tmp_path / f"rows{n}.csv"
        csv.write_text(f"x,label\n{n},a\n{n + 1},b\n")
        uploaded.append(_upload(db, store, tenant, csv))
    first = files.list_files(db, FileQuery(tenant, limit=2, newest_first=False))
    assert [f.id for f in first.data] == [f.id for f in uploaded[:2]]
    assert (first.first_id, first.last_id, first.has_more) == (
        uploaded[0].id,
        uploaded[1].id,
        True,
    )
    rest = files.list_files(db, FileQuery(tenant, after=first.last_id, limit=2, newest_first=False))
    assert [f.id for f in rest.data] == [uploaded[2].id] and not rest.has_more
    everything = files.list_files(db, FileQuery(tenant))  # no limit: one page, no cursor
    assert len(everything.data) == 3 and everything.first_id is None and not everything.has_more


def test_a_file_is_its_tenants_only_and_a_bad_purpose_is_refused_before_reading(
    db: Database, store: ArtifactStore, tmp_path: Path
) -> None:
    csv = tmp_path / "rows.csv"
    csv.write_text("x,label\n1,a\n2,b\n")
    stored = _upload(db, store, _tenant(db, "acme"), csv)
    with pytest.raises(NotFound):
        files.get_file(db, tenant_id=_tenant(db, "globex"), file_id=stored.id)
    with pytest.raises(InvalidInput, match="Unknown purpose 'pictures'"):
        files.inspect_file(tmp_path / "missing.csv", "missing.csv", "pictures")

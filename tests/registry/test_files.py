"""Uploaded files in the registry (aimaas/registry/files.py) on a real registry and store:
purposes and names, rows listed by tenant and cursor, another tenant's file answering as a
missing one, and artifacts shared by content until the last row that names them goes."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from aimaas.errors import InvalidInput, NotFound
from aimaas.registry import files, repository
from aimaas.registry.db import Database
from aimaas.registry.files import FileQuery
from aimaas.registry.store import Owner, PlainStore

DIGEST = hashlib.sha256(b"rows").hexdigest()


def _tenants(session: Session) -> tuple[str, str]:
    return (
        repository.create_tenant(session, name="acme").id,
        repository.create_tenant(session, name="globex").id,
    )


def _row(session: Session, tenant_id: str, purpose: str = "training", digest: str = DIGEST) -> str:
    row = files.create_file(
        session, tenant_id=tenant_id, filename="rows.csv", purpose=purpose, size=4,
        digest=digest, details={"format": "csv"},
    )  # fmt: skip
    return row.id


def test_validate_purpose_names_the_choices() -> None:
    for purpose in files.PURPOSES:
        assert files.validate_purpose(purpose) == purpose
    with pytest.raises(InvalidInput) as raised:
        files.validate_purpose("x" * 1000)
    assert raised.value.param == "purpose"
    assert "use one of: training, evaluation, fine-tune, model" in str(raised.value)
    assert "x" * 65 not in str(raised.value)  # the echo is cut short


def test_clean_filename_keeps_a_label() -> None:
    assert files.clean_filename("../../etc/passwd") == "passwd"
    assert files.clean_filename("..\\..\\w.csv") == "w.csv"
    assert files.clean_filename("a\x00b\u202ec\x1b.csv") == "abc.csv"
    assert files.clean_filename("  padded.csv  ") == "padded.csv"
    assert files.clean_filename("dir/") == "upload"
    assert files.clean_filename("") == "upload"
    assert files.clean_filename("ünïcödé.csv") == "ünïcödé.csv"
    assert len(files.clean_filename("n" * 10_000)) == files.MAX_FILENAME


def test_create_and_get_a_file_of_its_tenant_only(db: Database) -> None:
    with db.session() as session:
        acme, globex = _tenants(session)
        file_id = _row(session, acme)
        row = files.get_file(session, tenant_id=acme, file_id=file_id)
        assert (row.filename, row.purpose, row.bytes, row.artifact_digest) == (
            "rows.csv",
            "training",
            4,
            DIGEST,
        )
        for tenant_id, ref in ((globex, file_id), (acme, "file-nope")):
            with pytest.raises(NotFound) as missing:
                files.get_file(session, tenant_id=tenant_id, file_id=ref)
            assert missing.value.param == "file_id"
        with pytest.raises(InvalidInput):
            _row(session, acme, purpose="backup")
        chosen = files.create_file(
            session, tenant_id=acme, filename="x", purpose="model", size=1, digest=DIGEST,
            details={}, file_id="file-chosen",
        )  # fmt: skip
        assert chosen.id == "file-chosen"


def test_list_files_pages_by_cursor_in_either_order(db: Database) -> None:
    with db.session() as session:
        acme, globex = _tenants(session)
        ids = [_row(session, acme, purpose) for purpose in ("training", "evaluation", "training")]
        for n, file_id in enumerate(ids):  # one second apart: the order is certain
            row = files.get_file(session, tenant_id=acme, file_id=file_id)
            row.created_at = row.created_at.replace(microsecond=0) + timedelta(seconds=n)
        _row(session, globex)
        session.flush()

        def listed(**wanted: object) -> list[str]:
            query = FileQuery(acme, **wanted)  # type: ignore[arg-type]
            return [f.id for f in files.list_files(session, query)]

        assert listed() == ids[::-1]
        assert listed(newest_first=False) == ids
        assert listed(purpose="training") == [ids[2], ids[0]]
        assert listed(limit=2) == [ids[2], ids[1]]
        assert listed(after=ids[1]) == [ids[0]]
        assert listed(after=ids[1], newest_first=False) == [ids[2]]
        assert listed(after=ids[0]) == []
        for cursor in ("file-nope", _row(session, globex)):
            with pytest.raises(InvalidInput) as bad:
                listed(after=cursor)
            assert bad.value.param == "after"


def test_an_artifact_is_in_use_while_a_file_or_version_names_it(db: Database) -> None:
    other = hashlib.sha256(b"other").hexdigest()
    in_details = hashlib.sha256(b"model.json").hexdigest()
    with db.session() as session:
        acme, _ = _tenants(session)
        first, second = _row(session, acme), _row(session, acme)
        assert files.digest_in_use(session, DIGEST)
        assert not files.digest_in_use(session, other)
        _, orphaned = files.delete_file(session, tenant_id=acme, file_id=first)
        assert not orphaned  # the second row still names it
        _, orphaned = files.delete_file(session, tenant_id=acme, file_id=second)
        assert orphaned
        repository.register_model(
            session, tenant_id=acme, name="m", task="t", format="f",
            details={"files": {"model.json": in_details}}, artifact_digest=other,
        )  # fmt: skip
        assert files.digest_in_use(session, other) and files.digest_in_use(session, in_details)
        with pytest.raises(NotFound):
            files.delete_file(session, tenant_id=acme, file_id=first)


def test_store_and_remove_a_file_with_its_artifact(tmp_path: Path, db: Database) -> None:
    store = PlainStore(tmp_path / "artifacts", db=db)
    store.prepare()
    source = tmp_path / "rows.csv"
    source.write_bytes(b"rows")
    with db.session() as session:
        acme, globex = _tenants(session)
    kept = files.store_file(
        db, store, tenant_id=acme, source=source, filename="dir/rows.csv", purpose="training",
        details={},
    )  # fmt: skip
    again = files.store_file(
        db, store, tenant_id=acme, source=source, filename="rows.csv", purpose="evaluation",
        details={},
    )  # fmt: skip
    assert kept.filename == "rows.csv" and kept.bytes == 4 and kept.artifact_digest == DIGEST
    assert store.read(DIGEST, Owner.file(acme, kept.id)) == b"rows"
    with pytest.raises(InvalidInput):  # checked before anything is stored
        files.store_file(
            db, store, tenant_id=acme, source=tmp_path / "absent", filename="x",
            purpose="nope", details={},
        )  # fmt: skip
    with pytest.raises(NotFound):
        files.remove_file(db, store, tenant_id=globex, file_id=kept.id)
    files.remove_file(db, store, tenant_id=acme, file_id=kept.id)
    assert store.exists(DIGEST)  # the other upload of the same bytes keeps it
    files.remove_file(db, store, tenant_id=acme, file_id=again.id)
    assert not store.exists(DIGEST)
    with db.session() as session:
        assert files.list_files(session, FileQuery(acme)) == []

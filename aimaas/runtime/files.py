"""Uploaded files as the API answers them: inspected, stored, listed and fetched in wire
schemas. The ``/v1/files`` routes and the CLI's local backend both call these, so the two
always agree."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from aimaas.protocol.files import FileList, FileObject
from aimaas.registry import files
from aimaas.registry.db import Database
from aimaas.registry.files import FileQuery
from aimaas.registry.store import ArtifactStore
from aimaas.registry.tables import File


def file_object(row: File) -> FileObject:
    return FileObject(
        id=row.id,
        bytes=row.bytes,
        created_at=int(row.created_at.timestamp()),
        filename=row.filename,
        purpose=row.purpose,
        details=row.details,
    )


def inspect_file(source: Path, filename: str, purpose: str) -> dict[str, Any]:
    """Check an upload by its purpose (``aimaas.uploads``) and summarise it as the registry
    keeps it, or refuse it (``InvalidInput``)."""
    from aimaas.runtime.model_uploads import inspect_model_upload
    from aimaas.uploads.datasets import inspect_upload  # numpy and Pillow only when needed

    files.validate_purpose(purpose)
    inspect = inspect_model_upload if purpose == "model" else inspect_upload
    return inspect(source, filename).model_dump()


def store_upload(
    db: Database,
    store: ArtifactStore,
    *,
    tenant_id: str,
    source: Path,
    filename: str,
    purpose: str,
    details: dict[str, Any],
) -> FileObject:
    """Store and record an inspected upload (blocking: call it off the event loop)."""
    row = files.store_file(
        db,
        store,
        tenant_id=tenant_id,
        source=source,
        filename=filename,
        purpose=purpose,
        details=details,
    )
    return file_object(row)


def list_files(db: Database, wanted: FileQuery) -> FileList:
    """One page of a tenant's files (every file when ``wanted.limit`` is None)."""
    limit = wanted.limit
    with db.session() as session:
        one_more = replace(wanted, limit=None if limit is None else limit + 1)
        rows = files.list_files(session, one_more)
        page = [file_object(row) for row in rows[:limit]]
    if limit is None:
        return FileList(data=page)
    return FileList(
        data=page,
        first_id=page[0].id if page else None,
        last_id=page[-1].id if page else None,
        has_more=len(rows) > limit,
    )


def get_file(db: Database, *, tenant_id: str, file_id: str) -> FileObject:
    with db.session() as session:
        return file_object(files.get_file(session, tenant_id=tenant_id, file_id=file_id))

"""Uploaded files: a row in ``files`` per upload, the bytes in the artifact store.

Plain functions taking a session, plus two that also touch the store (``store_file``,
``remove_file``). Another tenant's file answers the same NotFound as one that does not exist.
The store is content-addressed, so two uploads of the same bytes share one artifact; it is
deleted with the last row that references it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Text, and_, cast, or_, select
from sqlalchemy.orm import Session

from aimaas.errors import InvalidInput, NotFound
from aimaas.registry.db import Database
from aimaas.registry.ids import new_id
from aimaas.registry.store import ArtifactStore, Owner
from aimaas.registry.tables import File, ModelVersion

# "model": weights and descriptions, checked by aimaas.runtime.model_uploads.
PURPOSES = ("training", "evaluation", "fine-tune", "model")
MAX_FILENAME = 255


@dataclass(frozen=True)
class FileQuery:
    """Which of a tenant's files to list: of one purpose or all, after the file ``after``
    (the last one of the previous page), at most ``limit`` (all when None), newest first or
    oldest first."""

    tenant_id: str
    purpose: str | None = None
    after: str | None = None
    limit: int | None = None
    newest_first: bool = True


def validate_purpose(purpose: str) -> str:
    if purpose not in PURPOSES:
        raise InvalidInput(
            f"Unknown purpose {purpose[:64]!r}; use one of: {', '.join(PURPOSES)}.",
            param="purpose",
        )
    return purpose


def clean_filename(name: str) -> str:
    """The name as a label: its last path component, without control characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip()
    return kept[:MAX_FILENAME] or "upload"


def create_file(
    session: Session,
    *,
    tenant_id: str,
    filename: str,
    purpose: str,
    size: int,
    digest: str,
    details: dict[str, Any],
    file_id: str | None = None,
) -> File:
    row = File(
        id=file_id or new_id("file"),
        tenant_id=tenant_id,
        filename=clean_filename(filename),
        purpose=validate_purpose(purpose),
        bytes=size,
        artifact_digest=digest,
        details=details,
    )
    session.add(row)
    session.flush()
    return row


def list_files(session: Session, wanted: FileQuery) -> Sequence[File]:
    """A tenant's files in ``wanted``'s order, after its cursor file, up to its limit."""
    query = select(File).where(File.tenant_id == wanted.tenant_id)
    if wanted.purpose is not None:
        query = query.where(File.purpose == wanted.purpose)
    if wanted.after is not None:
        cursor = session.get(File, wanted.after)
        if cursor is None or cursor.tenant_id != wanted.tenant_id:
            raise InvalidInput(
                f"'after' names no file of yours: {wanted.after[:64]!r}.", param="after"
            )
        if wanted.newest_first:
            query = query.where(
                or_(
                    File.created_at < cursor.created_at,
                    and_(File.created_at == cursor.created_at, File.id < cursor.id),
                )
            )
        else:
            query = query.where(
                or_(
                    File.created_at > cursor.created_at,
                    and_(File.created_at == cursor.created_at, File.id > cursor.id),
                )
            )
    if wanted.newest_first:
        query = query.order_by(File.created_at.desc(), File.id.desc())
    else:
        query = query.order_by(File.created_at, File.id)
    if wanted.limit is not None:
        query = query.limit(wanted.limit)
    return session.scalars(query).all()


def get_file(session: Session, *, tenant_id: str, file_id: str) -> File:
    row = session.get(File, file_id)
    if row is None or row.tenant_id != tenant_id:
        raise NotFound(
            f"File {file_id[:64]!r} not found; `aimaas files list` shows your files.",
            param="file_id",
        )
    return row


def digest_in_use(session: Session, digest: str) -> bool:
    """Whether any file or model version still references the artifact (a version's other
    files, such as its model.json, are named in its details)."""
    for column in (File.artifact_digest, ModelVersion.artifact_digest):
        if session.scalar(select(column).where(column == digest).limit(1)) is not None:
            return True
    in_details = cast(ModelVersion.details, Text).contains(digest)
    return session.scalar(select(ModelVersion.id).where(in_details).limit(1)) is not None


def delete_file(session: Session, *, tenant_id: str, file_id: str) -> tuple[File, bool]:
    """Delete the row; answers it and whether its artifact is now unreferenced."""
    row = get_file(session, tenant_id=tenant_id, file_id=file_id)
    session.delete(row)
    session.flush()
    return row, not digest_in_use(session, row.artifact_digest)


def store_file(
    db: Database,
    store: ArtifactStore,
    *,
    tenant_id: str,
    source: Path,
    filename: str,
    purpose: str,
    details: dict[str, Any],
) -> File:
    """Put ``source`` (already inspected) into the store, then record it.

    The artifact is durable before the row commits, so no row points at missing bytes."""
    validate_purpose(purpose)
    file_id = new_id("file")  # known before the bytes are stored: they are sealed for it
    owner = Owner.file(tenant_id, file_id)
    with source.open("rb") as stream:
        digest = store.put(stream, owner)
    with db.session() as session:
        row = create_file(
            session,
            file_id=file_id,
            tenant_id=tenant_id,
            filename=filename,
            purpose=purpose,
            size=source.stat().st_size,
            digest=digest,
            details=details,
        )
    if not store.exists(digest, owner):  # a delete of the same bytes ran in between
        with source.open("rb") as stream:
            store.put(stream, owner)
    return row


def remove_file(db: Database, store: ArtifactStore, *, tenant_id: str, file_id: str) -> File:
    """Delete the row, then, once that has committed, the artifact if nothing else uses it."""
    with db.session() as session:
        row, orphaned = delete_file(session, tenant_id=tenant_id, file_id=file_id)
    store.delete(row.artifact_digest, Owner.file(tenant_id, row.id), unreferenced=orphaned)
    return row

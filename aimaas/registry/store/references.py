"""Every artifact the registry names, with its owner: each uploaded file's bytes, each
model version's files (weights, ``model.json``, an uploaded GGUF), each evaluation's
report and plots. What ``seal-existing`` seals and ``security status`` counts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aimaas.registry.store.interface import Owner
from aimaas.registry.store.layout import DIGEST
from aimaas.registry.tables import File, Job, Model, ModelVersion


@dataclass(frozen=True)
class Reference:
    """One owner's artifact: what ``store.read(digest, owner)`` answers."""

    digest: str
    owner: Owner


def stored_references(session: Session) -> list[Reference]:
    """Every (digest, owner) a row names, each once, sorted by digest (the owners of the
    same bytes together)."""
    found = {*_files(session), *_model_versions(session), *_reports(session)}
    return sorted(found, key=lambda ref: (ref.digest, ref.owner.context))


def _files(session: Session) -> Iterator[Reference]:
    for tenant_id, file_id, digest in session.execute(
        select(File.tenant_id, File.id, File.artifact_digest)
    ):
        yield from _named(Owner.file(tenant_id, file_id), [digest])


def _model_versions(session: Session) -> Iterator[Reference]:
    rows = session.execute(
        select(
            Model.tenant_id,
            Model.name,
            ModelVersion.id,
            ModelVersion.version,
            ModelVersion.artifact_digest,
            ModelVersion.details,
        ).join(Model, Model.id == ModelVersion.model_id)
    )
    for tenant_id, name, version_id, version, digest, details in rows:
        details = details if isinstance(details, dict) else {}
        files = details.get("files")
        source = details.get("source")
        digests: list[Any] = [digest]
        digests += list(files.values()) if isinstance(files, dict) else []
        digests += [source.get("artifact")] if isinstance(source, dict) else []
        yield from _named(Owner.model(tenant_id, name, version_id, version), digests)


def _reports(session: Session) -> Iterator[Reference]:
    rows = session.execute(select(Job.tenant_id, Job.id, Job.result).where(Job.result.is_not(None)))
    for tenant_id, job_id, result in rows:
        reports = result.get("reports") if isinstance(result, dict) else None
        if not isinstance(reports, dict):
            continue
        plots = reports.get("plots")
        digests: list[Any] = [reports.get("html")]
        digests += list(plots.values()) if isinstance(plots, dict) else []
        yield from _named(Owner.report(tenant_id, job_id), digests)


def _named(owner: Owner, digests: list[Any]) -> Iterator[Reference]:
    for digest in digests:
        if isinstance(digest, str) and DIGEST.fullmatch(digest):
            yield Reference(digest, owner)

"""A data directory filled without a master key, through the registry's own functions: uploaded
files (two of them the same bytes), trained-style model versions (weights + model.json), an
uploaded GGUF-style version, a shared model's version, an evaluation's report and plots, and
one plaintext object no row names. Every artifact's bytes are random, so a search of the
disk for a slice of them finds only that artifact."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from aimaas.config import Settings, load_settings
from aimaas.registry import files, jobs, repository
from aimaas.registry.db import Database
from aimaas.registry.store import ArtifactStore, Owner, PlainStore


@dataclass(frozen=True)
class Stored:
    digest: str
    owner: Owner
    data: bytes


@dataclass
class Filled:
    settings: Settings
    stored: list[Stored]  # every artifact a row names, with its bytes
    unreferenced: bytes  # the bytes of the one plaintext object no row names

    def database(self) -> Database:
        return Database(self.settings.resolved_database_url)

    def needles(self) -> dict[str, bytes]:
        """Two 48-byte slices of each artifact's bytes (its start and its middle)."""
        found = {}
        for i, item in enumerate(self.stored):
            middle = len(item.data) // 2
            found[f"{i}: {item.owner.label}, start"] = item.data[:48]
            found[f"{i}: {item.owner.label}, middle"] = item.data[middle : middle + 48]
        return found


def occurrences(root: Path, needles: dict[str, bytes]) -> dict[str, list[str]]:
    """Which needles appear in which files under ``root`` (SQLite and WAL files included)."""
    blobs = {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    found: dict[str, list[str]] = {}
    for name, needle in needles.items():
        where = [path for path, blob in blobs.items() if needle in blob]
        if where:
            found[name] = where
    return found


def fill_without_key(data_dir: Path, *, uploads: int = 4, sizes: tuple[int, int] = (200, 90_000),
                     seed: int = 5) -> Filled:  # fmt: skip
    rng = random.Random(seed)
    settings = load_settings(data_dir=data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    db.migrate()
    store = PlainStore(settings.storage.artifacts_dir, db=db)
    store.prepare()
    stored: list[Stored] = []

    def put(owner: Owner, data: bytes | None = None) -> str:
        data = data if data is not None else rng.randbytes(rng.randint(*sizes))
        digest = store.put(data, owner)
        stored.append(Stored(digest, owner, data))
        return digest

    try:
        with db.session() as session:
            tenant_id = repository.create_tenant(session, name="before-the-key").id
        for i in range(uploads):
            _upload(db, store, tenant_id, rng.randbytes(rng.randint(*sizes)), i, stored)
        _upload(db, store, tenant_id, stored[0].data, uploads, stored)  # the same bytes again
        for j in range(2):
            version_id = repository.new_version_id()
            owner = Owner.model(tenant_id, "iris", version_id, j + 1)
            weights, description = put(owner), put(owner)
            with db.session() as session:
                repository.register_model(
                    session, tenant_id=tenant_id, name="iris", task="classification",
                    format="aimaas-torch", artifact_digest=weights, version_id=version_id,
                    details={"files": {"model.safetensors": weights, "model.json": description}},
                )  # fmt: skip
        version_id = repository.new_version_id()
        gguf = put(Owner.model(tenant_id, "smol", version_id, 1))
        with db.session() as session:
            repository.register_model(
                session, tenant_id=tenant_id, name="smol", task="chat", format="gguf",
                artifact_digest=gguf, version_id=version_id,
                details={"source": {"artifact": gguf}},
            )  # fmt: skip
        version_id = repository.new_version_id()
        shared = put(Owner.model(None, "shared", version_id, 1))
        with db.session() as session:
            repository.register_model(
                session, tenant_id=None, name="shared", task="classification",
                format="aimaas-torch", artifact_digest=shared, version_id=version_id,
                details={"files": {"model.safetensors": shared}},
            )  # fmt: skip
            job = jobs.create_job(session, tenant_id=tenant_id, kind="evaluation", spec={})
            job_id = job.id
        report = Owner.report(tenant_id, job_id)
        html, plot = put(report), put(report)
        with db.session() as session:
            job = jobs.get_job(session, job_id=job_id, tenant_id=tenant_id)
            reports = {"html": html, "plots": {"Confusion matrix": plot}}
            jobs.finish(session, job, status="succeeded", result={"reports": reports})
        unreferenced = rng.randbytes(5_000)
        store.put(unreferenced, Owner.file(tenant_id, "file-never-recorded"))
    finally:
        db.dispose()
    return Filled(settings, stored, unreferenced)


def _upload(
    db: Database, store: ArtifactStore, tenant_id: str, data: bytes, i: int, stored: list[Stored]
) -> None:
    with store.staging() as path:
        path.write_bytes(data)
        row = files.store_file(
            db, store, tenant_id=tenant_id, source=path, filename=f"upload-{i}.csv",
            purpose="training", details={},
        )  # fmt: skip
    stored.append(Stored(row.artifact_digest, Owner.file(tenant_id, row.id), data))

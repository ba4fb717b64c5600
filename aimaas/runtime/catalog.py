"""From a model reference in a request to the spec of the version to serve."""

from __future__ import annotations

import time
from typing import cast

from starlette.concurrency import run_in_threadpool

from aimaas.errors import InvalidInput
from aimaas.registry import repository
from aimaas.registry.db import Database
from aimaas.registry.tables import Model, ModelVersion
from aimaas.registry.version_details import VersionDetails
from aimaas.runtime.specs import FORMAT_RUNTIMES, Capability, ModelSpec, ServingOptions
from aimaas.single_flight import OneFlight

SPEC_CACHE_SECONDS = 2.0


def spec_from_rows(model: Model, version: ModelVersion) -> ModelSpec:
    runtime = FORMAT_RUNTIMES.get(version.format)
    if runtime is None:
        raise InvalidInput(
            f"Model {model.name!r} is stored as {version.format!r}, which aimaas cannot serve.",
            param="model",
        )
    details = VersionDetails.of(version)
    capabilities = cast(list[Capability], details.capabilities)
    source = dict(details.source)
    if runtime == "torch":  # a trained model: its files are in the artifact store
        capabilities = ["predict", "embeddings"] if model.task == "embedding" else ["predict"]
        source = {"files": details.stored_files}
    return ModelSpec(
        version_id=version.id,
        name=model.name,
        runtime=runtime,
        capabilities=frozenset(capabilities),
        source=source,
        options=ServingOptions(**details.options),
        license=details.license,
        version=version.version,
        tenant_id=model.tenant_id,
    )


def find_spec(db: Database, *, tenant_id: str, ref: str) -> ModelSpec:
    with db.session() as session:
        model, version = repository.resolve_version(session, tenant_id=tenant_id, ref=ref)
        return spec_from_rows(model, version)


class SpecCache:
    """``find_spec`` cached for a moment per (tenant, reference), to keep database I/O off
    the hot path. ``forget()`` after a registration serves the new version at once."""

    def __init__(self, db: Database, *, ttl_seconds: float = SPEC_CACHE_SECONDS) -> None:
        self.db = db
        self.ttl = ttl_seconds
        self._specs: dict[tuple[str, str], tuple[ModelSpec, float]] = {}
        self._reads = OneFlight()

    def _cached(self, key: tuple[str, str]) -> ModelSpec | None:
        hit = self._specs.get(key)
        if hit is not None and time.monotonic() - hit[1] < self.ttl:
            return hit[0]
        return None

    async def get(self, tenant_id: str, ref: str) -> ModelSpec:
        key = (tenant_id, ref)
        return await self._reads.through(key, lambda: self._cached(key), lambda: self._read(key))

    async def _read(self, key: tuple[str, str]) -> ModelSpec:
        tenant_id, ref = key
        spec = await run_in_threadpool(find_spec, self.db, tenant_id=tenant_id, ref=ref)
        if len(self._specs) > 10_000:
            self._specs.clear()
        self._specs[key] = (spec, time.monotonic())
        return spec

    def forget(self) -> None:
        self._specs.clear()

"""From a model reference in a request to the spec of the version to serve."""

from __future__ import annotations

from typing import Any, cast

from aimaas.errors import InvalidInput
from aimaas.registry import repository
from aimaas.registry.db import Database
from aimaas.registry.tables import Model, ModelVersion
from aimaas.runtime.specs import FORMAT_RUNTIMES, Capability, ModelSpec, ServingOptions


def spec_from_rows(model: Model, version: ModelVersion) -> ModelSpec:
    runtime = FORMAT_RUNTIMES.get(version.format)
    if runtime is None:
        raise InvalidInput(
            f"Model {model.name!r} is stored as {version.format!r}, which the OpenAI routes "
            "do not serve.",
            param="model",
        )
    details: dict[str, Any] = version.details or {}
    return ModelSpec(
        version_id=version.id,
        name=model.name,
        runtime=runtime,
        capabilities=frozenset(cast(list[Capability], details.get("capabilities", []))),
        source=dict(details.get("source", {})),
        options=ServingOptions(**details.get("options", {})),
        license=details.get("license"),
    )


def find_spec(db: Database, *, tenant_id: str, ref: str) -> ModelSpec:
    with db.session() as session:
        model, version = repository.resolve_version(session, tenant_id=tenant_id, ref=ref)
        return spec_from_rows(model, version)

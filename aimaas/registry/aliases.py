"""Model aliases (``name@production``): plain functions taking a session.

An alias names one version of one model; a bare model name means its ``production``
alias when one is set. Only a tenant's own models carry its aliases: the shared models
(the embedded defaults) are the same for everyone.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from aimaas.errors import Forbidden, NotFound
from aimaas.registry.repository import get_model, validate_name
from aimaas.registry.tables import Model, ModelAlias, ModelVersion, utcnow


def own_model(session: Session, *, tenant_id: str, name: str) -> Model:
    """The tenant's model called ``name``; Forbidden for a shared one."""
    model = get_model(session, tenant_id=tenant_id, name=name)
    if model.tenant_id != tenant_id:
        raise Forbidden(
            f"Model {name!r} is shared by the server; aliases are set on your own models.",
            param="model",
        )
    return model


def get_version(session: Session, *, model: Model, version: int) -> ModelVersion:
    row = session.scalar(
        select(ModelVersion).where(
            ModelVersion.model_id == model.id, ModelVersion.version == version
        )
    )
    if row is None:
        raise NotFound(f"Model {model.name!r} has no version {version}.", param="version")
    return row


def list_aliases(session: Session, *, model: Model) -> list[tuple[ModelAlias, ModelVersion]]:
    rows = session.execute(
        select(ModelAlias, ModelVersion)
        .join(ModelVersion, ModelVersion.id == ModelAlias.version_id)
        .where(ModelAlias.model_id == model.id)
        .order_by(ModelAlias.alias)
    ).all()
    return [(alias, version) for alias, version in rows]


def current(session: Session, *, model: Model, alias: str) -> ModelVersion | None:
    """The version ``alias`` names now, or None."""
    row = session.get(ModelAlias, (model.id, alias))
    return None if row is None else session.get(ModelVersion, row.version_id)


def set_alias(session: Session, *, model: Model, alias: str, version: ModelVersion) -> ModelAlias:
    validate_name(alias, param="alias")
    row = session.get(ModelAlias, (model.id, alias))
    if row is None:
        row = ModelAlias(model_id=model.id, alias=alias, version_id=version.id)
        session.add(row)
    else:
        row.version_id = version.id
        row.updated_at = utcnow()
    session.flush()
    return row


def delete_alias(session: Session, *, model: Model, alias: str) -> None:
    row = session.get(ModelAlias, (model.id, alias))
    if row is None:
        raise NotFound(f"Model {model.name!r} has no alias {alias!r}.", param="alias")
    session.delete(row)
    session.flush()


def versions_by_id(session: Session, *, model: Model) -> Sequence[ModelVersion]:
    return session.scalars(
        select(ModelVersion).where(ModelVersion.model_id == model.id).order_by(ModelVersion.version)
    ).all()

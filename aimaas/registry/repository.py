"""Registry operations: plain keyword-only functions that take a session.

Tenant isolation lives here: every lookup of a tenant-owned row takes the caller's tenant and
answers NotFound, the same as for a row that does not exist, when the row is someone else's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session

from aimaas.errors import Conflict, InvalidInput, NotFound
from aimaas.registry.ids import new_id
from aimaas.registry.tables import (
    ApiKey,
    Model,
    ModelAlias,
    ModelVersion,
    Tenant,
    UsageRecord,
    utcnow,
)

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
NAME_RULE = "1-64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit"


def validate_name(value: str, *, param: str) -> str:
    if not NAME_PATTERN.fullmatch(value):
        raise InvalidInput(f"'{param}' must be {NAME_RULE}.", param=param)
    return value


# --- tenants -------------------------------------------------------------------------------


def create_tenant(session: Session, *, name: str) -> Tenant:
    validate_name(name, param="name")
    if session.scalar(select(Tenant).where(Tenant.name == name)) is not None:
        raise Conflict(f"Tenant {name!r} already exists.", param="name")
    tenant = Tenant(id=new_id("tn"), name=name)
    session.add(tenant)
    session.flush()
    return tenant


def list_tenants(session: Session) -> Sequence[Tenant]:
    return session.scalars(select(Tenant).order_by(Tenant.created_at, Tenant.id)).all()


def find_tenant(session: Session, *, ref: str) -> Tenant:
    """A tenant by id or by name."""
    tenant = session.get(Tenant, ref) or session.scalar(select(Tenant).where(Tenant.name == ref))
    if tenant is None:
        raise NotFound(
            f"Tenant {ref!r} not found; create it with `aimaas tenants create {ref}`.",
            param="tenant",
        )
    return tenant


# --- keys ----------------------------------------------------------------------------------


def add_key(
    session: Session,
    *,
    tenant: Tenant,
    key_hash: str,
    prefix: str,
    scopes: list[str],
    name: str | None = None,
    expires_at: datetime | None = None,
) -> ApiKey:
    """Record a key by its hash and display prefix (``security.keys.issue_key`` makes it)."""
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidInput("'expires_at' must be in the future.", param="expires_at")
    row = ApiKey(
        id=new_id("key"),
        tenant_id=tenant.id,
        name=name,
        prefix=prefix,
        key_hash=key_hash,
        scopes=scopes,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return row


def list_keys(session: Session, *, tenant_id: str | None = None) -> Sequence[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
    if tenant_id is not None:
        query = query.where(ApiKey.tenant_id == tenant_id)
    return session.scalars(query).all()


def revoke_key(session: Session, *, key_id: str, tenant_id: str | None = None) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None or (tenant_id is not None and row.tenant_id != tenant_id):
        raise NotFound(
            f"Key {key_id!r} not found; `aimaas keys list` shows the keys.", param="key_id"
        )
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row


def find_active_key(
    session: Session, *, key_hash: str, now: datetime | None = None
) -> ApiKey | None:
    """The key row with this hash if it exists, is not revoked and has not expired by
    ``now`` (default: the current time)."""
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))
    if row is None:
        return None
    if row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= (now or utcnow()):
        return None
    return row


def has_active_key_with_scope(session: Session, *, scope: str) -> bool:
    now = utcnow()
    rows = session.scalars(
        select(ApiKey).where(
            ApiKey.revoked_at.is_(None),
            or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now),
        )
    )
    return any(scope in row.scopes for row in rows)


# --- models --------------------------------------------------------------------------------


def list_models(session: Session, *, tenant_id: str) -> Sequence[Model]:
    """The models a tenant may use: its own and the shared ones."""
    query = (
        select(Model)
        .where(or_(Model.tenant_id == tenant_id, Model.tenant_id.is_(None)))
        .order_by(Model.created_at, Model.name)
    )
    return session.scalars(query).all()


def get_model(session: Session, *, tenant_id: str, name: str) -> Model:
    models = session.scalars(
        select(Model).where(
            Model.name == name, or_(Model.tenant_id == tenant_id, Model.tenant_id.is_(None))
        )
    ).all()
    if not models:
        raise NotFound(
            f"Model {name!r} not found; `aimaas models list` shows the models you can use.",
            param="model",
        )
    # A tenant's own model shadows a shared one of the same name.
    return next((m for m in models if m.tenant_id == tenant_id), models[0])


def list_all_models(session: Session) -> Sequence[Model]:
    """Every model of every tenant (operators' view, for the local CLI)."""
    return session.scalars(select(Model).order_by(Model.created_at, Model.name)).all()


def _next_version(session: Session, model_id: str) -> int:
    latest = session.scalar(
        select(ModelVersion.version)
        .where(ModelVersion.model_id == model_id)
        .order_by(ModelVersion.version.desc())
        .limit(1)
    )
    return (latest or 0) + 1


def new_version_id() -> str:
    """A version's id, made before the version is recorded when its artifacts are stored
    first (encrypted at rest, they are sealed for it)."""
    return new_id("mv")


def register_model(
    session: Session,
    *,
    tenant_id: str | None,
    name: str,
    task: str,
    format: str,
    details: dict[str, Any],
    description: str | None = None,
    artifact_digest: str | None = None,
    version_id: str | None = None,
) -> tuple[Model, ModelVersion]:
    """Add a version to a model, creating the model on its first version."""
    validate_name(name, param="name")
    owner = Model.tenant_id == tenant_id if tenant_id else Model.tenant_id.is_(None)
    model = session.scalar(select(Model).where(Model.name == name, owner))
    if model is None:
        model = Model(
            id=new_id("mdl"), tenant_id=tenant_id, name=name, task=task, description=description
        )
        session.add(model)
        session.flush()
    version = ModelVersion(
        id=version_id or new_version_id(),
        model_id=model.id,
        version=_next_version(session, model.id),
        format=format,
        artifact_digest=artifact_digest,
        details=details,
    )
    session.add(version)
    session.flush()
    return model, version


@dataclass(frozen=True)
class SharedModel:
    """A model every tenant sees (the defaults), as its newest version describes it."""

    name: str
    task: str
    format: str
    details: dict[str, Any]
    description: str | None = None


def ensure_shared_model(session: Session, shared: SharedModel) -> None:
    """A shared model with exactly these details as its newest version (idempotent)."""
    name, details, format = shared.name, shared.details, shared.format
    model = session.scalar(select(Model).where(Model.name == name, Model.tenant_id.is_(None)))
    if model is not None:
        newest = session.scalar(
            select(ModelVersion)
            .where(ModelVersion.model_id == model.id)
            .order_by(ModelVersion.version.desc())
            .limit(1)
        )
        if newest is not None and newest.details == details and newest.format == format:
            return
    register_model(session, tenant_id=None, **asdict(shared))


def resolve_version(session: Session, *, tenant_id: str, ref: str) -> tuple[Model, ModelVersion]:
    """``name``, ``name:VERSION`` or ``name@ALIAS`` -> the model and the version meant.

    A bare name means the ``production`` alias when one is set, else the newest version.
    """
    name, version_number, alias = ref, None, None
    if "@" in ref:
        name, alias = ref.split("@", 1)
    elif ":" in ref:
        name, number = ref.rsplit(":", 1)
        if not number.isdigit():
            raise InvalidInput(f"{ref!r}: a version is a number, as in 'name:2'.", param="model")
        version_number = int(number)
    model = get_model(session, tenant_id=tenant_id, name=name)
    query = select(ModelVersion).where(ModelVersion.model_id == model.id)
    if alias is None and version_number is None:
        pinned = session.get(ModelAlias, (model.id, "production"))
        alias = "production" if pinned is not None else None
    if alias is not None:
        row = session.get(ModelAlias, (model.id, alias))
        if row is None:
            raise NotFound(f"Model {name!r} has no alias {alias!r}.", param="model")
        query = query.where(ModelVersion.id == row.version_id)
    elif version_number is not None:
        query = query.where(ModelVersion.version == version_number)
    version = session.scalar(query.order_by(ModelVersion.version.desc()).limit(1))
    if version is None:
        raise NotFound(f"Model {ref!r} has no such version.", param="model")
    return model, version


class RequestUsage(TypedDict):
    """The tokens one request used, and when."""

    tenant_id: str
    key_id: str | None
    model: str
    endpoint: str
    prompt_tokens: int
    completion_tokens: int
    created_at: datetime


def record_usage(session: Session, rows: Sequence[RequestUsage]) -> None:
    session.execute(insert(UsageRecord), list(rows))

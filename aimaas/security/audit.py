"""The audit log: one row per admin or model-changing action.

Who (the key's id, never the key), for which tenant, what (``ACTIONS``), on what (the
target's id), when, from where (the client's address) and with which request id, plus a few
details. Details pass through ``scrub`` first: anything named like a secret is dropped and
any string that looks like an API key is replaced, so a key can never reach the table even
if a caller passes one by mistake.

Rows are written after the action has succeeded, in their own transaction; ``record`` never
raises (a failure to audit is logged, and the action's answer stands).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from aimaas.errors import NotFound
from aimaas.protocol.audit import AuditEventOut, AuditList
from aimaas.registry import repository
from aimaas.registry.db import Database
from aimaas.registry.tables import AuditEvent, columns
from aimaas.security.keys import KEY_PREFIX

log = logging.getLogger("aimaas.audit")

ACTIONS = (
    "tenant.create",
    "key.create",
    "key.revoke",
    "limits.set",
    "model.register",
    "model.alias",
    "model.alias.delete",
    "file.upload",
    "file.delete",
    "job.create",
    "job.cancel",
    "security.rotate_master_key",
)
MAX_LIMIT = 1000
# Names of secrets: "key", "api_key", "master_key", "client_secret", "access_token", ...
# (but not "key_id" or "tokens_per_day").
_SECRET_NAME = re.compile(
    r"(^|_)(key|apikey|secret|password|passwd|token|credentials?|authorization)$", re.I
)
_KEY_LIKE = re.compile(re.escape(KEY_PREFIX) + r"\S*")
_MAX_STRING = 256
_MAX_ITEMS = 64
_MAX_DEPTH = 4


def scrub(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON-safe data without secrets: secret-named entries dropped, key-like
    strings redacted, strings and collections bounded."""
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, str):
        return _KEY_LIKE.sub("[redacted]", value)[:_MAX_STRING]
    if isinstance(value, datetime):
        return value.isoformat()
    if depth >= _MAX_DEPTH:
        return "..."
    if isinstance(value, dict):
        kept = {
            str(k)[:64]: scrub(v, depth + 1)
            for k, v in list(value.items())[:_MAX_ITEMS]
            if not _SECRET_NAME.search(str(k))
        }
        return kept
    if isinstance(value, list | tuple | set | frozenset):
        return [scrub(v, depth + 1) for v in list(value)[:_MAX_ITEMS]]
    return scrub(str(value), depth + 1)


def record(
    db: Database,
    action: str,
    *,
    key_id: str | None,
    actor_tenant_id: str | None,
    tenant_id: str | None,
    target: str | None,
    client: str | None = None,
    request_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Write one audit row; never raises."""
    try:
        row = AuditEvent(
            action=action[:32],
            key_id=key_id,
            actor_tenant_id=actor_tenant_id,
            tenant_id=tenant_id,
            target=None if target is None else scrub(str(target))[:255],
            client=None if client is None else client[:64],
            request_id=None if request_id is None else request_id[:128],
            details=scrub(details or {}),
        )
        with db.session() as session:
            session.add(row)
    except Exception:
        log.exception("could not write the audit row of %s", action)


def list_events(
    session: Session,
    *,
    tenant_ids: Sequence[str] | None = None,
    action: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> Sequence[AuditEvent]:
    """Newest first. ``tenant_ids``: rows acting on, or by a key of, one of these tenants;
    ``action``: exact, or a prefix ending in '.' (``key.`` for every key action)."""
    query = select(AuditEvent)
    if tenant_ids is not None:
        query = query.where(
            or_(AuditEvent.tenant_id.in_(tenant_ids), AuditEvent.actor_tenant_id.in_(tenant_ids))
        )
    if action:
        if action.endswith("."):
            query = query.where(AuditEvent.action.startswith(action, autoescape=True))
        else:
            query = query.where(AuditEvent.action == action)
    if since is not None:
        query = query.where(AuditEvent.created_at >= since)
    query = query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    return session.scalars(query.limit(max(1, min(limit, MAX_LIMIT)))).all()


def event_out(row: AuditEvent, names: dict[str, str]) -> AuditEventOut:
    """A row as the API shows it; ``names``: tenant id -> name."""
    return AuditEventOut(
        **columns(row, ("id", "created_at", "action", "key_id", "target", "client", "request_id")),
        actor_tenant=row.actor_tenant_id,
        tenant=row.tenant_id,
        tenant_name=names.get(row.tenant_id or ""),
        details=dict(row.details or {}),
    )


def audit_list(
    db: Database,
    *,
    tenant: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> AuditList:
    """The rows for the API and the CLI; ``tenant`` is an id or a name."""
    with db.session() as session:
        tenant_ids = None
        if tenant is not None:
            try:
                tenant_ids = [repository.find_tenant(session, ref=tenant).id]
            except NotFound:
                raise NotFound(f"No tenant {tenant[:64]!r}.", param="tenant") from None
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        rows = list_events(session, tenant_ids=tenant_ids, action=action, since=since, limit=limit)
        names = {t.id: t.name for t in repository.list_tenants(session)}
        return AuditList(data=[event_out(row, names) for row in rows])


def record_local(
    db: Database,
    action: str,
    *,
    tenant_id: str | None,
    target: str | None,
    **details: Any,
) -> None:
    """An action of the local CLI, on the data directory itself: no key, address ``local``."""
    record(
        db,
        action,
        key_id=None,
        actor_tenant_id=None,
        tenant_id=tenant_id,
        target=target,
        client="local",
        details=details,
    )

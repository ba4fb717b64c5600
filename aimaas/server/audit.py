"""The audit trail as a route dependency: ``audit: Audit`` in a route's parameters, then
``return audit.log("key.revoke", result)`` (``await audit.alog(...)`` in async routes).

It knows who calls (the key's id and tenant, from the same authentication the route's scope
check used), from where (the client's address) and the request id; the target defaults to
the result's ``id`` and the tenant to the caller's. See ``aimaas.security.audit``.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from aimaas.registry.db import Database
from aimaas.security.audit import record
from aimaas.security.principal import Principal
from aimaas.server.deps import DatabaseDep, authenticate

ResultT = TypeVar("ResultT")


class AuditTrail:
    def __init__(
        self, db: Database, principal: Principal, client: str | None, request_id: str | None
    ) -> None:
        self.db = db
        self.principal = principal
        self.client = client
        self.request_id = request_id

    def log(
        self,
        action: str,
        result: ResultT,
        *,
        target: str | None = None,
        tenant: str | None = None,
        **details: Any,
    ) -> ResultT:
        """Record ``action`` (done, with ``result``) and hand ``result`` back."""
        found = getattr(result, "id", None)
        record(
            self.db,
            action,
            key_id=self.principal.key_id,
            actor_tenant_id=self.principal.tenant_id,
            tenant_id=tenant or self.principal.tenant_id,
            target=target if target is not None else (str(found) if found is not None else None),
            client=self.client,
            request_id=self.request_id,
            details=details,
        )
        return result

    async def alog(self, action: str, result: ResultT, **fields: Any) -> ResultT:
        """``log`` off the event loop (``fields``: its ``target``, ``tenant`` and details)."""
        return await run_in_threadpool(lambda: self.log(action, result, **fields))


def audit_trail(
    request: Request,
    db: DatabaseDep,
    principal: Annotated[Principal, Depends(authenticate)],
) -> AuditTrail:
    request_id = getattr(request.state, "request_id", None)
    client = request.client.host if request.client else None
    return AuditTrail(db, principal, client, request_id)


Audit = Annotated[AuditTrail, Depends(audit_trail)]

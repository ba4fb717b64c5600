"""A model's aliases (/v1/models/{name}/aliases), moved through the promotion gate."""

from __future__ import annotations

from aimaas.protocol.aliases import AliasDeleted, AliasList, AliasObject, AliasSet
from aimaas.server.audit import Audit
from aimaas.server.deps import AliasesDep, EvaluationsReader, ModelsWriter
from aimaas.server.routes import new_router

router = new_router(prefix="/v1", tags=["evaluations"])


@router.get("/models/{name}/aliases")
def list_aliases(name: str, aliases: AliasesDep, caller: EvaluationsReader) -> AliasList:
    return aliases.list(caller.tenant_id, name)


@router.put("/models/{name}/aliases/{alias}")
def set_alias(
    name: str, alias: str, body: AliasSet, aliases: AliasesDep, caller: ModelsWriter, audit: Audit
) -> AliasObject:
    """Point ``alias`` at a version; with ``require``, only if its newest evaluation passes
    the gate (409 with both numbers when it does not)."""
    done = aliases.set(caller.tenant_id, name, alias, body)
    return audit.log("model.alias", done, target=f"{done.model}@{done.alias}", version=done.version)


@router.delete("/models/{name}/aliases/{alias}")
def delete_alias(
    name: str, alias: str, aliases: AliasesDep, caller: ModelsWriter, audit: Audit
) -> AliasDeleted:
    done = aliases.delete(caller.tenant_id, name, alias)
    return audit.log("model.alias.delete", done, target=f"{done.model}@{done.alias}")

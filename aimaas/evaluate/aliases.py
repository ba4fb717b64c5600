"""What the alias routes mean: list a model's aliases, point one at a version (through
the promotion gate when asked), delete one. A change is served at once (``on_change``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aimaas.evaluate.gate import gate
from aimaas.protocol.aliases import AliasDeleted, AliasList, AliasObject, AliasSet
from aimaas.registry import aliases, repository
from aimaas.registry.db import Database
from aimaas.registry.tables import ModelAlias, ModelVersion


def alias_object(
    model: str, alias: ModelAlias, version: ModelVersion, check: dict[str, Any] | None
) -> AliasObject:
    return AliasObject(
        model=model,
        alias=alias.alias,
        version=version.version,
        updated_at=int(alias.updated_at.timestamp()),
        check=check,
    )


class AliasService:
    def __init__(self, db: Database, *, on_change: Callable[[], None]) -> None:
        self.db = db
        self.on_change = on_change  # name@alias (and a bare name for production) moved

    def list(self, tenant_id: str, name: str) -> AliasList:
        with self.db.session() as session:
            model = repository.get_model(session, tenant_id=tenant_id, name=name)
            return AliasList(
                data=[
                    alias_object(model.name, alias, version, None)
                    for alias, version in aliases.list_aliases(session, model=model)
                ]
            )

    def set(self, tenant_id: str, name: str, alias: str, body: AliasSet) -> AliasObject:
        with self.db.session() as session:
            model = aliases.own_model(session, tenant_id=tenant_id, name=name)
            repository.validate_name(alias, param="alias")
            candidate = aliases.get_version(session, model=model, version=body.version)
            check = None
            if body.require is not None:
                check = gate(session, model, alias, candidate, body.require)
            row = aliases.set_alias(session, model=model, alias=alias, version=candidate)
            answer = alias_object(model.name, row, candidate, check)
        self.on_change()
        return answer

    def delete(self, tenant_id: str, name: str, alias: str) -> AliasDeleted:
        with self.db.session() as session:
            model = aliases.own_model(session, tenant_id=tenant_id, name=name)
            aliases.delete_alias(session, model=model, alias=alias)
        self.on_change()
        return AliasDeleted(model=model.name, alias=alias)

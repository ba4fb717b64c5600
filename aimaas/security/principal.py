"""Who is calling: one key of one tenant, with its scopes."""

from __future__ import annotations

from dataclasses import dataclass

from aimaas.protocol.scopes import Scope


@dataclass(frozen=True)
class Principal:
    key_id: str
    tenant_id: str
    tenant_name: str
    scopes: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return Scope.ADMIN.value in self.scopes

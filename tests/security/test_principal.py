"""A caller: the admin scope means every scope; no other does."""

from __future__ import annotations

from aimaas.protocol.scopes import Scope
from aimaas.security.principal import Principal


def test_only_the_admin_scope_makes_an_admin() -> None:
    others = frozenset(scope.value for scope in Scope if scope is not Scope.ADMIN)
    assert not Principal("k", "t", "acme", others).is_admin
    assert Principal("k", "t", "acme", frozenset({Scope.ADMIN.value})).is_admin

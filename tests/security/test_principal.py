"""Principal (aimaas/security/principal.py): who is calling, and whether it is an admin."""

from __future__ import annotations

import dataclasses

import pytest

from aimaas.security.principal import Principal


def test_principal_admin_has_every_scope() -> None:
    principal = Principal(key_id="k", tenant_id="t", tenant_name="n", scopes=frozenset({"admin"}))
    assert principal.is_admin


def test_a_principal_without_the_admin_scope_is_not_an_admin() -> None:
    scopes = frozenset({"infer", "models:read", "train"})
    principal = Principal(key_id="k", tenant_id="t", tenant_name="n", scopes=scopes)
    assert not principal.is_admin
    assert not Principal("k", "t", "n", frozenset()).is_admin


def test_a_principal_is_frozen_and_hashable() -> None:
    principal = Principal("k", "t", "n", frozenset({"infer"}))
    with pytest.raises(dataclasses.FrozenInstanceError):
        principal.scopes = frozenset({"admin"})  # type: ignore[misc]
    assert {principal, Principal("k", "t", "n", frozenset({"infer"}))} == {principal}

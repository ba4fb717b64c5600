"""Key generation, hashing, issuing and finding keys."""

from __future__ import annotations

import pytest

from aimaas.errors import InvalidInput
from aimaas.registry import repository
from aimaas.registry.db import Database
from aimaas.registry.tables import utcnow
from aimaas.security.keys import (
    KEY_PREFIX,
    find_active_key,
    generate_key,
    hash_key,
    issue_key,
    looks_like_key,
)


def test_keys_are_random_and_prefixed() -> None:
    keys = {generate_key() for _ in range(100)}
    assert len(keys) == 100
    assert all(k.startswith(KEY_PREFIX) and looks_like_key(k) for k in keys)
    assert not looks_like_key(KEY_PREFIX + "x" * 500)


def test_an_issued_key_is_found_by_its_plaintext_and_stored_only_as_hash_and_prefix(
    db: Database,
) -> None:
    with db.session() as session:
        tenant = repository.create_tenant(session, name="acme")
        row, plaintext = issue_key(session, tenant=tenant, scopes=["infer", "infer", "train"])
        assert row.scopes == ["infer", "train"]  # once each, in the order given
        assert row.key_hash == hash_key(plaintext) and plaintext.startswith(row.prefix)
        assert row.prefix != plaintext
    with db.session() as session:
        found = find_active_key(session, plaintext=plaintext)
        assert found is not None and found.id == row.id
        assert find_active_key(session, plaintext=generate_key()) is None
        repository.revoke_key(session, key_id=row.id)
    with db.session() as session:
        assert find_active_key(session, plaintext=plaintext) is None


def test_scopes_are_checked_before_a_key_is_made(db: Database) -> None:
    with db.session() as session:
        tenant = repository.create_tenant(session, name="acme")
        with pytest.raises(InvalidInput, match="Unknown scope 'root'; choose from admin, "):
            issue_key(session, tenant=tenant, scopes=["infer", "root"])
        with pytest.raises(InvalidInput, match="A key needs at least one scope"):
            issue_key(session, tenant=tenant, scopes=[])
        with pytest.raises(InvalidInput, match="'expires_at' must be in the future"):
            issue_key(session, tenant=tenant, scopes=["infer"], expires_at=utcnow())
        assert repository.list_keys(session) == []

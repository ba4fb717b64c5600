"""Key generation, hashing and the first admin key."""

from __future__ import annotations

import stat
from pathlib import Path

from sqlalchemy import select

from aimaas.registry.db import Database
from aimaas.registry.tables import ApiKey
from aimaas.security.bootstrap import ensure_admin_key
from aimaas.security.keys import KEY_PREFIX, generate_key, hash_key, looks_like_key


def test_keys_are_random_and_prefixed() -> None:
    keys = {generate_key() for _ in range(100)}
    assert len(keys) == 100
    assert all(k.startswith(KEY_PREFIX) and looks_like_key(k) for k in keys)
    assert not looks_like_key(KEY_PREFIX + "x" * 500)


def test_first_admin_key_is_created_once_and_stored_as_a_hash(tmp_path: Path, db: Database) -> None:
    key_file = tmp_path / "admin.key"
    key = ensure_admin_key(db, key_file)
    assert key is not None and key_file.read_text().strip() == key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert ensure_admin_key(db, key_file) is None
    with db.session() as session:
        rows = session.scalars(select(ApiKey)).all()
        assert len(rows) == 1 and rows[0].key_hash == hash_key(key)
        assert key not in (rows[0].key_hash, rows[0].prefix)
    raw = (tmp_path / "r.db").read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob("r.db-*")
    )
    assert key.encode() not in raw
    db.dispose()

"""The ``data_keys`` rows of sealed artifacts: what a wrapped key is bound to, and how many
each master key wraps (what a store checks its master key against at start)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, select

from aimaas.registry.tables import DataKey

if TYPE_CHECKING:
    from aimaas.registry.db import Database


def wrap_context(owner: str, digest: str, object_id: str) -> bytes:
    """What a wrapped data key is bound to: its owner, its content and its object."""
    return f"{owner}\0{digest}\0{object_id}".encode()


def counts_by_master_key(db: Database) -> dict[str, int]:
    """Master key id -> how many data keys it wraps."""
    with db.session() as session:
        rows = session.execute(
            select(DataKey.master_key_id, func.count()).group_by(DataKey.master_key_id)
        ).all()
    return {key_id: count for key_id, count in rows}

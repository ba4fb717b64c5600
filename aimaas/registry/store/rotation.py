"""Master key rotation: every data key re-wrapped under the new key, the sealed bytes
untouched (``aimaas security rotate-master-key``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from aimaas import crypto
from aimaas.registry.store.data_keys import wrap_context
from aimaas.registry.tables import DataKey

if TYPE_CHECKING:
    from aimaas.registry.db import Database


def rewrap_data_keys(db: Database, old: crypto.MasterKey, new: crypto.MasterKey) -> int:
    """Re-wrap every data key under ``new`` in one transaction (the sealed bytes are not
    touched): afterwards ``old`` opens nothing and ``new`` everything. Answers how many
    keys were re-wrapped; keys already under ``new`` are left as they are. A key that does
    not unwrap under ``old`` aborts the whole rotation (ValueError), changing nothing."""
    rewrapped = 0
    with db.session() as session:
        for row in session.scalars(select(DataKey).order_by(DataKey.id)):
            if row.master_key_id == new.id:
                continue
            if row.master_key_id != old.id:
                raise ValueError(
                    f"Data key {row.id} is wrapped by master key {row.master_key_id}, neither "
                    f"the current one ({old.id}) nor the new one ({new.id}); nothing was changed."
                )
            context = wrap_context(row.owner, row.digest, row.id)
            try:
                data_key = old.unwrap(row.wrapped_key, context)
            except crypto.IntegrityError:
                raise ValueError(
                    f"Data key {row.id} does not unwrap under the current master key (its row "
                    "was altered); nothing was changed."
                ) from None
            row.wrapped_key = new.wrap(data_key, context)
            row.master_key_id = new.id
            rewrapped += 1
    return rewrapped

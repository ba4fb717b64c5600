"""Artifacts stored before the master key was set, sealed in place
(``aimaas security seal-existing``), and the count of what is still plaintext
(``aimaas security status``).

For each plaintext object the registry names, every owner of it gets its sealed copy (its
data key row committed once the sealed file is in place), each copy is decrypted and
checked against the digest, and only then is the plaintext removed. At every moment each
artifact reads whole through ``SealedStore``: from its plaintext until its row commits,
from its sealed copy after. Killed at any point (``kill -9``), a run leaves at most a
half-written temp file (swept at start) or a sealed file no row names; the next run
verifies what is sealed and finishes the rest."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import groupby
from typing import TYPE_CHECKING

from sqlalchemy import select

from aimaas.errors import IntegrityFailed
from aimaas.registry.store.data_keys import counts_by_master_key
from aimaas.registry.store.interface import Owner
from aimaas.registry.store.layout import Layout
from aimaas.registry.store.references import Reference, stored_references
from aimaas.registry.tables import DataKey

if TYPE_CHECKING:
    from pathlib import Path

    from aimaas.registry.db import Database
    from aimaas.registry.store.sealed import SealedStore


@dataclass
class Amount:
    count: int = 0
    bytes: int = 0

    def add(self, size: int) -> None:
        self.count += 1
        self.bytes += size


@dataclass
class StoreCensus:
    """What the artifact store holds, sealed and not. Counts are artifacts (an owner's
    bytes); plaintext bytes count each object once, however many owners share it."""

    master_key_id: str | None  # the configured one; None: artifacts are stored in plaintext
    data_keys: dict[str, int]  # master key id -> how many data keys it wraps
    sealed: Amount = field(default_factory=Amount)
    plaintext: Amount = field(default_factory=Amount)  # still read from a plaintext object
    missing: int = 0  # named by a row, stored neither way
    # Plaintext objects of artifacts sealed already (seal-existing removes them once their
    # sealed copies are verified), and plaintext objects no row names (left as they are).
    plaintext_of_sealed: Amount = field(default_factory=Amount)
    unreferenced_plaintext: Amount = field(default_factory=Amount)


def census(root: Path, db: Database, master_key_id: str | None) -> StoreCensus:
    """Counts the artifacts under ``root`` against the rows that name them; decrypts
    nothing, so it needs no master key."""
    layout = Layout(root)
    with db.session() as session:
        references = stored_references(session)
        rows = {
            (owner, digest): (object_id, size)
            for object_id, owner, digest, size in session.execute(
                select(DataKey.id, DataKey.owner, DataKey.digest, DataKey.size)
            )
        }
    result = StoreCensus(master_key_id=master_key_id, data_keys=counts_by_master_key(db))
    needed: set[str] = set()
    for ref in references:
        row = rows.get((ref.owner.context, ref.digest))
        if row is not None and layout.sealed(row[0]).is_file():
            result.sealed.add(row[1])
        elif layout.plain(ref.digest).is_file():
            result.plaintext.count += 1
            needed.add(ref.digest)
        else:
            result.missing += 1
    named = {ref.digest for ref in references}
    for path in layout.plain_objects():
        size = path.stat().st_size
        if path.name in needed:
            result.plaintext.bytes += size
        elif path.name in named:
            result.plaintext_of_sealed.add(size)
        else:
            result.unreferenced_plaintext.add(size)
    return result


@dataclass
class SealingOutcome:
    sealed: Amount = field(default_factory=Amount)  # artifacts sealed by this run
    already_sealed: int = 0
    plaintext_removed: Amount = field(default_factory=Amount)  # plaintext objects removed
    damaged: list[str] = field(default_factory=list)  # owners whose plaintext did not check
    missing: list[str] = field(default_factory=list)  # named by a row, stored neither way


def seal_existing(
    store: SealedStore, db: Database, *, on_sealed: Callable[[Reference], None] | None = None
) -> SealingOutcome:
    """Seal every plaintext artifact the registry names, verify each sealed copy, then
    remove the plaintext (see the module's docstring). Idempotent: a second run finds
    nothing to do. ``on_sealed`` hears of each artifact as it is sealed."""
    layout = Layout(store.root)
    outcome = SealingOutcome()
    with db.session() as session:
        references = stored_references(session)
    for digest, group in groupby(references, key=lambda ref: ref.digest):
        owners = [ref.owner for ref in group]
        plain = layout.plain(digest)
        if not plain.is_file():  # sealed already (or lost before this run)
            for owner in owners:
                if store.is_sealed(digest, owner):
                    outcome.already_sealed += 1
                else:
                    outcome.missing.append(owner.label)
            continue
        size = plain.stat().st_size
        verified = [
            _sealed_and_verified(store, digest, owner, size, outcome, on_sealed) for owner in owners
        ]
        if all(verified):
            store.remove_plaintext(digest)
            outcome.plaintext_removed.add(size)
    return outcome


def _sealed_and_verified(
    store: SealedStore,
    digest: str,
    owner: Owner,
    size: int,
    outcome: SealingOutcome,
    on_sealed: Callable[[Reference], None] | None,
) -> bool:
    """Whether ``owner`` has a sealed copy that decrypts to ``digest``, sealing it from the
    plaintext (again, if a copy in place does not verify) where it has not."""
    if store.is_sealed(digest, owner):
        if store.verify_sealed(digest, owner):
            outcome.already_sealed += 1
            return True
        store.forget_sealed(digest, owner)  # the plaintext is still here: seal it again
    try:
        store.seal_plaintext(digest, owner)
    except IntegrityFailed:  # the plaintext itself does not hash to its digest
        outcome.damaged.append(owner.label)
        return False
    if not store.verify_sealed(digest, owner):  # read back wrong: the plaintext serves on
        store.forget_sealed(digest, owner)
        outcome.damaged.append(owner.label)
        return False
    outcome.sealed.add(size)
    if on_sealed is not None:
        on_sealed(Reference(digest, owner))
    return True

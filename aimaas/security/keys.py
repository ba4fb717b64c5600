"""API keys: generated at random, shown once, stored only as a SHA-256 hash (the registry
holds the hash and a display prefix, never the key).

A key is 256 bits of randomness, so a plain SHA-256 (no slow KDF) is the right hash: it
cannot be brute-forced and costs microseconds per request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from aimaas.errors import InvalidInput
from aimaas.protocol.scopes import ALL_SCOPES
from aimaas.registry import repository
from aimaas.registry.tables import ApiKey, Tenant

KEY_PREFIX = "sk-aimaas-"
# A real key is the prefix plus 43 url-safe characters; anything far longer is refused unread.
MAX_KEY_LENGTH = 128


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def display_prefix(key: str) -> str:
    """What listings show of a key: enough to tell keys apart, useless to an attacker."""
    return key[: len(KEY_PREFIX) + 4]


def hashes_match(stored_hash: str, presented_key: str) -> bool:
    return hmac.compare_digest(stored_hash, hash_key(presented_key))


def looks_like_key(value: str) -> bool:
    return value.startswith(KEY_PREFIX) and len(value) <= MAX_KEY_LENGTH and value.isascii()


def validate_scopes(scopes: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(scopes))
    unknown = [scope for scope in chosen if scope not in ALL_SCOPES]
    if unknown:
        raise InvalidInput(
            f"Unknown scope {unknown[0]!r}; choose from {', '.join(sorted(ALL_SCOPES))}.",
            param="scopes",
        )
    if not chosen:
        raise InvalidInput("A key needs at least one scope.", param="scopes")
    return chosen


def issue_key(
    session: Session,
    *,
    tenant: Tenant,
    scopes: Iterable[str],
    name: str | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the plaintext key, which is never stored."""
    chosen = validate_scopes(scopes)
    plaintext = generate_key()
    row = repository.add_key(
        session,
        tenant=tenant,
        key_hash=hash_key(plaintext),
        prefix=display_prefix(plaintext),
        scopes=chosen,
        name=name,
        expires_at=expires_at,
    )
    return row, plaintext


def find_active_key(
    session: Session, *, plaintext: str, now: datetime | None = None
) -> ApiKey | None:
    """The key row for a presented key if it exists, is not revoked and has not expired by
    ``now`` (default: the current time)."""
    row = repository.find_active_key(session, key_hash=hash_key(plaintext), now=now)
    if row is None or not hashes_match(row.key_hash, plaintext):
        return None
    return row

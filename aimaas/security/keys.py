"""API keys: generated at random, shown once, stored only as a SHA-256 hash.

A key is 256 bits of randomness, so a plain SHA-256 (no slow KDF) is the right hash: it
cannot be brute-forced and costs microseconds per request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from enum import StrEnum

KEY_PREFIX = "sk-aimaas-"
# A real key is the prefix plus 43 url-safe characters; anything far longer is refused unread.
MAX_KEY_LENGTH = 128


class Scope(StrEnum):
    ADMIN = "admin"
    MODELS_READ = "models:read"
    MODELS_WRITE = "models:write"
    INFER = "infer"
    TRAIN = "train"


ALL_SCOPES: frozenset[str] = frozenset(scope.value for scope in Scope)
DEFAULT_SCOPES: tuple[Scope, ...] = (Scope.MODELS_READ, Scope.INFER)


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

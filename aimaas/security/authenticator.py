"""Presented API key -> Principal, with a short-lived in-memory cache so that the serving hot
path does no database work for a key it saw a moment ago.

Revocations through this process's API take effect at once (``forget_all``); a revocation by
another process (the local CLI) takes effect within ``ttl_seconds``. Expiry is checked on
every hit.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from aimaas.clock import SYSTEM_CLOCK, Clock
from aimaas.registry.db import Database
from aimaas.registry.tables import Tenant
from aimaas.security.keys import find_active_key, hash_key
from aimaas.security.principal import Principal
from aimaas.single_flight import OneFlight

MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class _CachedKey:
    principal: Principal
    expires_at: datetime | None
    cached_at: float


class Authenticator:
    def __init__(self, db: Database, *, ttl_seconds: float, clock: Clock = SYSTEM_CLOCK) -> None:
        self.db = db
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._cache: dict[str, _CachedKey] = {}
        self._reads = OneFlight()

    async def principal(self, key: str) -> Principal | None:
        """The principal for ``key``: from the cache, else from the registry on a worker
        thread, one read at a time per key."""
        return await self._reads.through(
            key, lambda: self.cached(key), lambda: asyncio.to_thread(self.lookup, key)
        )

    def cached(self, key: str) -> Principal | None:
        """The principal for ``key`` if a fresh, unexpired entry is cached; no I/O."""
        entry = self._cache.get(hash_key(key))
        if entry is None or self.clock.monotonic() - entry.cached_at > self.ttl_seconds:
            return None
        if entry.expires_at is not None and entry.expires_at <= self.clock.now():
            return None
        return entry.principal

    def lookup(self, key: str) -> Principal | None:
        """Check ``key`` against the registry (blocking I/O); caches what it finds."""
        with self.db.session() as session:
            row = find_active_key(session, plaintext=key, now=self.clock.now())
            if row is None:
                return None
            tenant_name = session.scalar(select(Tenant.name).where(Tenant.id == row.tenant_id))
            principal = Principal(
                key_id=row.id,
                tenant_id=row.tenant_id,
                tenant_name=tenant_name or "",
                scopes=frozenset(row.scopes),
            )
            expires_at = row.expires_at
        if self.ttl_seconds > 0:
            if len(self._cache) >= MAX_ENTRIES:
                self._cache.pop(next(iter(self._cache)))
            self._cache[hash_key(key)] = _CachedKey(principal, expires_at, self.clock.monotonic())
        return principal

    def forget_all(self) -> None:
        self._cache.clear()

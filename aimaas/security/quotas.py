"""Quotas in the serving path: a key's and its tenant's limits read from the registry (cached
for ``ttl_seconds``, dropped at once when an admin changes them), the in-memory windows of
security/limits.py seeded from the usage table the first time a subject has limits, and
admission, settling and the usage report on top.

Every admission runs on the event loop and holds what it needs in one synchronous call after
its I/O is done, so concurrent requests cannot both take the last unit. The windows live in
this process: with several server processes each counts its own requests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, TypeVar

from aimaas.errors import Forbidden, InvalidInput
from aimaas.protocol.limits import LimitsOut, UsageEntry, UsageList, UsageQuery
from aimaas.protocol.openai import ChatCompletionRequest, CompletionRequest, EmbeddingRequest
from aimaas.registry import repository, usage
from aimaas.registry.db import Database
from aimaas.security.limits import (
    KEY_LIMITS,
    LIMITS,
    METERS,
    TENANT_LIMITS,
    Limiter,
    Limits,
    Meter,
    Reservation,
    Subject,
    period_start,
)
from aimaas.security.principal import Principal
from aimaas.single_flight import OneFlight

T = TypeVar("T")
MAX_CACHED = 10_000
MAX_REPORT_DAYS = 366
DEFAULT_REPORT_DAYS = 30
EARLIEST, LATEST = date(1970, 1, 1), date(9000, 1, 1)
# What a multipart body may add around its file (boundaries, part headers, the purpose).
MULTIPART_FRAMING = 16 * 1024
# Prompt tokens are estimated before the model has seen them: at most one token per two bytes
# of text, plus what a chat template adds around each message and the whole conversation.
BYTES_PER_TOKEN = 2
PER_MESSAGE_TOKENS = 16
PER_CHAT_TOKENS = 32


def estimate_tokens(text: str) -> int:
    return -(-len(text.encode("utf-8", "surrogatepass")) // BYTES_PER_TOKEN)


def _content_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(getattr(part, "text", "")) for part in content)
    return ""


def generation_maximum(
    request: ChatCompletionRequest | CompletionRequest, context_length: int
) -> int:
    """Tokens a generation may use at most: the prompt's estimate plus ``max_tokens`` (the
    model's context when it is not given) for each of the ``n`` choices of each prompt."""
    if isinstance(request, ChatCompletionRequest):
        prompt = PER_CHAT_TOKENS
        for message in request.messages:
            prompt += PER_MESSAGE_TOKENS + estimate_tokens(_content_text(message.content))
            if message.tool_calls:
                prompt += estimate_tokens(str(message.tool_calls))
        if request.tools:
            prompt += sum(estimate_tokens(tool.model_dump_json()) for tool in request.tools)
        prompts = 1
    else:
        texts = [request.prompt] if isinstance(request.prompt, str) else request.prompt
        prompt = sum(estimate_tokens(text) + 2 for text in texts)
        prompts = len(texts)
    completion = request.token_limit or context_length
    return prompt + prompts * request.n * completion


def embedding_maximum(request: EmbeddingRequest) -> int:
    return sum(estimate_tokens(text) + 2 for text in request.texts)


@dataclass
class _Cached:
    key: Limits
    tenant: Limits
    at: float


@dataclass
class Upload:
    """An upload's hold on the tenant's ``upload_bytes_per_day``: the body's declared size
    first; ``received`` trades it for the file's real size (checked again, before anything is
    stored); ``stored`` keeps it; ``end`` (in a ``finally``) gives back what was not stored."""

    reservation: Reservation
    kept: bool = False

    def received(self, size: int) -> None:
        self.reservation = self.reservation.resize({"upload_bytes": size}, param="file")

    def stored(self) -> None:
        self.kept = True

    def end(self) -> None:
        if not self.kept:
            self.reservation.release()


class Quotas:
    def __init__(self, db: Database, *, ttl_seconds: float, limiter: Limiter | None = None):
        self.db = db
        self.ttl_seconds = ttl_seconds
        self.limiter = limiter or Limiter()
        self._cache: dict[tuple[str, str], _Cached] = {}
        self._reads = OneFlight()

    def forget(self) -> None:
        """Read every subject's limits again from the next request on."""
        self._cache.clear()

    # --- admission ---------------------------------------------------------------------

    async def admit(
        self, caller: Principal, *, param: str | None = None, **amounts: int
    ) -> Reservation:
        """Hold ``amounts`` (requests, tokens, jobs, upload_bytes) under the caller's key and
        tenant limits, or raise QuotaExceeded (429 with Retry-After)."""
        checks = await self._checks(caller)
        for subject, limits in checks:
            if not limits.empty and not self.limiter.is_tracked(subject):
                await self._track(subject)
        # No await from here on: the check and the hold are one step.
        meters: dict[Meter, int] = {m: amounts[m] for m in METERS if m in amounts}
        return self.limiter.reserve(checks, meters, param=param)

    async def admit_generation(
        self,
        caller: Principal,
        request: ChatCompletionRequest | CompletionRequest,
        context_length: int,
    ) -> Reservation:
        return await self.admit(
            caller,
            param="max_tokens",
            requests=1,
            tokens=generation_maximum(request, context_length),
        )

    @asynccontextmanager
    async def job(self, caller: Principal) -> AsyncIterator[None]:
        """One job submission under the tenant's ``jobs_per_day``; a refused submission
        (a 4xx from the service) gives it back."""
        reservation = await self.admit(caller, jobs=1)
        try:
            yield
        except BaseException:
            reservation.release()
            raise

    async def admit_upload(self, caller: Principal, content_length: str | None) -> Upload:
        """An upload under the tenant's ``upload_bytes_per_day``, by the least its file can
        be (the body's Content-Length less the multipart framing; 1 byte without one), so a
        body that cannot fit is refused before it is read; ``received`` holds the real size."""
        declared = int(content_length) if content_length and content_length.isdigit() else 0
        least = max(1, declared - MULTIPART_FRAMING)
        reservation = await self.admit(caller, param="file", upload_bytes=least)
        return Upload(reservation)

    # --- limits ------------------------------------------------------------------------

    async def _checks(self, caller: Principal) -> list[tuple[Subject, Limits]]:
        key = Subject("key", caller.key_id)
        tenant = Subject("tenant", caller.tenant_id, caller.tenant_name)
        ids = (caller.key_id, caller.tenant_id)
        cached = await self._reads.through(ids, lambda: self._fresh(ids), lambda: self._read(ids))
        return [(key, cached.key), (tenant, cached.tenant)]

    def _fresh(self, ids: tuple[str, str]) -> _Cached | None:
        cached = self._cache.get(ids)
        if cached is None or time.monotonic() - cached.at > self.ttl_seconds:
            return None
        return cached

    async def _read(self, ids: tuple[str, str]) -> _Cached:
        """The limits of a key and its tenant, from the registry, cached."""
        key_limits, tenant_limits = await asyncio.to_thread(self._read_limits, *ids)
        cached = _Cached(key_limits, tenant_limits, time.monotonic())
        if self.ttl_seconds > 0:
            if len(self._cache) >= MAX_CACHED:
                self._cache.pop(next(iter(self._cache)))
            self._cache[ids] = cached
        return cached

    def _read_limits(self, key_id: str, tenant_id: str) -> tuple[Limits, Limits]:
        with self.db.session() as session:
            key_limits, tenant_limits = usage.limits_of(session, key_id=key_id, tenant_id=tenant_id)
        return _key_only(Limits.from_mapping(key_limits)), Limits.from_mapping(tenant_limits)

    async def _track(self, subject: Subject) -> None:
        """Seed ``subject``'s windows from the registry (a no-op if another request did)."""
        at = self.limiter.clock()
        seed = await asyncio.to_thread(self._read_seed, subject, at)
        self.limiter.seed(subject, at=at, **seed)

    def _read_seed(self, subject: Subject, at: float) -> dict[str, Any]:
        day_start = period_start("day", at)
        month_start = period_start("month", at)
        minute_ago = datetime.fromtimestamp(at, UTC) - timedelta(minutes=1)
        with self.db.session() as session:
            owner = {"kind": subject.kind, "owner_id": subject.id}
            day = usage.totals_since(session, since=day_start, **owner)
            month = usage.totals_since(session, since=month_start, **owner)
            events = usage.events_since(session, since=minute_ago, **owner)
            day_totals: dict[Meter, int] = {"requests": day.requests, "tokens": day.tokens}
            if subject.kind == "tenant":
                day_totals["jobs"] = usage.jobs_since(
                    session, tenant_id=subject.id, since=day_start
                )
                day_totals["upload_bytes"] = usage.upload_bytes_since(
                    session, tenant_id=subject.id, since=day_start
                )
        recent: list[tuple[float, Meter, int]] = []
        for when, tokens in events:
            recent += [(when.timestamp(), "requests", 1), (when.timestamp(), "tokens", tokens)]
        return {
            "day": day_totals,
            "month": {"requests": month.requests, "tokens": month.tokens},
            "recent": recent,
        }

    async def _view(self, subject: Subject, limits: Limits) -> LimitsOut:
        if not self.limiter.is_tracked(subject):
            await self._track(subject)
        names = KEY_LIMITS if subject.kind == "key" else TENANT_LIMITS
        used = self.limiter.used(subject) or dict.fromkeys(LIMITS, 0)
        remaining = self.limiter.remaining(subject, limits)
        return LimitsOut(
            subject=subject.kind,
            id=subject.id,
            name=subject.label,
            limits=limits.as_dict(names),
            used={name: used[name] for name in names},
            remaining={name: remaining[name] for name in names},
        )

    async def get_limits(self, kind: Literal["key", "tenant"], ref: str) -> LimitsOut:
        subject, limits = await asyncio.to_thread(self._read_subject, kind, ref, None)
        return await self._view(subject, limits)

    async def set_limits(
        self, kind: Literal["key", "tenant"], ref: str, values: dict[str, int | None]
    ) -> LimitsOut:
        """Store a key's or tenant's limits (replacing them all); they apply from the next
        request on."""
        stored = {name: value for name, value in values.items() if value is not None}
        subject, limits = await asyncio.to_thread(self._read_subject, kind, ref, stored)
        self.forget()
        return await self._view(subject, limits)

    def _read_subject(
        self, kind: Literal["key", "tenant"], ref: str, store: dict[str, int] | None
    ) -> tuple[Subject, Limits]:
        with self.db.session() as session:
            if kind == "key":
                row = usage.find_key(session, key_id=ref)
                if store is not None:
                    row.limits = store or None
                return Subject("key", row.id), _key_only(Limits.from_mapping(row.limits))
            tenant = repository.find_tenant(session, ref=ref)
            if store is not None:
                tenant.limits = store or None
            return Subject("tenant", tenant.id, tenant.name), Limits.from_mapping(tenant.limits)

    # --- usage -------------------------------------------------------------------------

    async def report(self, caller: Principal | None, query: UsageQuery) -> UsageList:
        """Usage by day, model and key, with the limits that bind it. A caller sees its own
        key (or, with ``scope='tenant'``, its tenant); an admin may name any tenant or key.
        No caller: the operator on the server's machine (the local CLI), who sees every
        tenant's usage unless a tenant or key is named."""
        tenant, key, start, end = query.tenant, query.key, query.start, query.end
        if (tenant is not None or key is not None) and caller is not None and not caller.is_admin:
            raise Forbidden(
                "Only an admin key may read another tenant's or key's usage; leave out "
                "'tenant' and 'key' to see your own.",
                param="tenant" if tenant is not None else "key",
            )
        if tenant is not None and key is not None:
            raise InvalidInput("Give 'tenant' or 'key', not both.", param="key")
        for name, day in (("start", start), ("end", end)):
            if day is not None and not EARLIEST <= day <= LATEST:
                raise InvalidInput(f"'{name}' must be between {EARLIEST} and {LATEST}.", param=name)
        today = datetime.fromtimestamp(self.limiter.clock(), UTC).date()
        end = end or today
        start = start or end - timedelta(days=DEFAULT_REPORT_DAYS - 1)
        if start > end:
            raise InvalidInput("'start' is after 'end'.", param="start")
        if (end - start).days >= MAX_REPORT_DAYS:
            raise InvalidInput(
                f"At most {MAX_REPORT_DAYS} days per request; narrow 'start' and 'end'.",
                param="start",
            )
        rows, views = await asyncio.to_thread(
            self._read_report, caller, query.scope, tenant, key, start, end
        )
        limits = {subject.kind: await self._view(subject, lim) for subject, lim in views}
        return UsageList(
            start=start.isoformat(),
            end=end.isoformat(),
            data=[UsageEntry(**vars(row)) for row in rows],
            limits=limits,
        )

    def _read_report(
        self,
        caller: Principal | None,
        scope: Literal["key", "tenant"],
        tenant: str | None,
        key: str | None,
        start: date,
        end: date,
    ) -> tuple[list[usage.DailyUsage], list[tuple[Subject, Limits]]]:
        key_id: str | None
        with self.db.session() as session:
            if key is not None:
                key_row = usage.find_key(session, key_id=key)
                key_id, tenant_id = key_row.id, key_row.tenant_id
            elif caller is not None:
                key_id, tenant_id = caller.key_id, caller.tenant_id
            elif tenant is None:  # the operator: everything, no one's limits
                return usage.usage_by_day(session, start=start, end=end), []
            else:
                key_id, tenant_id = None, tenant
            if tenant is not None:
                tenant_id = repository.find_tenant(session, ref=tenant).id
                key_id = None
            elif scope == "tenant" and key is None:
                key_id = None
            tenant_row = repository.find_tenant(session, ref=tenant_id)
            views: list[tuple[Subject, Limits]] = []
            if key_id is not None:
                stored = usage.limits_of(session, key_id=key_id, tenant_id=tenant_id)[0]
                views.append((Subject("key", key_id), _key_only(Limits.from_mapping(stored))))
            views.append(
                (
                    Subject("tenant", tenant_row.id, tenant_row.name),
                    Limits.from_mapping(tenant_row.limits),
                )
            )
            rows = usage.usage_by_day(
                session,
                start=start,
                end=end,
                tenant_id=tenant_id if key_id is None else None,
                key_id=key_id,
            )
        return rows, views


def _key_only(limits: Limits) -> Limits:
    """Keys have the rate and token limits; jobs and uploads are counted per tenant."""
    return Limits(**{name: getattr(limits, name) for name in KEY_LIMITS})


def run_locally(db: Database, work: Callable[[Quotas], Coroutine[Any, Any, T]]) -> T:
    """Run ``work`` on a Quotas of its own, outside any server (the local CLI): its usage
    comes from the registry alone."""
    return asyncio.run(work(Quotas(db, ttl_seconds=0)))

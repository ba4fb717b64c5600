"""Quotas in the serving path (aimaas/security/quotas.py) on a real registry and a limiter
whose clock stands still: token estimates, admission under a key's and its tenant's limits,
seeding from the usage table, jobs and uploads, limits set and read, and the usage report."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import pytest

from aimaas.errors import Forbidden, InvalidInput, NotFound, QuotaExceeded
from aimaas.protocol.limits import UsageQuery
from aimaas.protocol.openai import ChatCompletionRequest, CompletionRequest, EmbeddingRequest
from aimaas.registry import jobs, repository
from aimaas.registry.db import Database
from aimaas.security import admin
from aimaas.security.limits import Limiter, Subject
from aimaas.security.principal import Principal
from aimaas.security.quotas import (
    MULTIPART_FRAMING,
    PER_CHAT_TOKENS,
    PER_MESSAGE_TOKENS,
    Quotas,
    embedding_maximum,
    estimate_tokens,
    generation_maximum,
    run_locally,
)

T = TypeVar("T")
NOON = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


def run(work: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(work)


def quotas(db: Database) -> Quotas:
    return Quotas(db, ttl_seconds=0, limiter=Limiter(clock=NOON.timestamp))


def caller(db: Database, tenant: str = "acme", scopes: list[str] | None = None) -> Principal:
    if tenant not in {t.name for t in admin.list_tenants(db).data}:
        admin.create_tenant(db, name=tenant)
    key = admin.create_key(db, tenant=tenant, scopes=scopes or ["infer", "train"])
    return Principal(key.id, key.tenant, tenant, frozenset(key.scopes))


def record(db: Database, who: Principal, tokens: int, at: datetime, model: str = "m") -> None:
    with db.session() as session:
        row = repository.RequestUsage(
            tenant_id=who.tenant_id,
            key_id=who.key_id,
            model=model,
            endpoint="/v1/chat",
            prompt_tokens=tokens,
            completion_tokens=0,
            created_at=at,
        )
        repository.record_usage(session, [row])


def test_estimate_tokens_is_one_per_two_bytes_rounded_up() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("a") == 1
    assert estimate_tokens("abcd") == 2
    assert estimate_tokens("abcde") == 3
    assert estimate_tokens("é") == 1  # two bytes in UTF-8
    assert estimate_tokens("\ud800") == 2  # a lone surrogate counts, it does not raise


def test_generation_maximum_of_a_chat_and_of_completions() -> None:
    chat = ChatCompletionRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": "abcd"}], "max_tokens": 10, "n": 2}
    )
    prompt = PER_CHAT_TOKENS + PER_MESSAGE_TOKENS + 2
    assert generation_maximum(chat, context_length=4096) == prompt + 2 * 10
    no_max = ChatCompletionRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": "abcd"}]}
    )
    assert generation_maximum(no_max, context_length=4096) == prompt + 4096
    completions = CompletionRequest.model_validate(
        {"model": "m", "prompt": ["ab", "abcdef"], "max_tokens": 5}
    )
    assert generation_maximum(completions, context_length=100) == (1 + 2) + (3 + 2) + 2 * 5
    one = CompletionRequest.model_validate({"model": "m", "prompt": "ab"})
    assert generation_maximum(one, context_length=100) == 3 + 100


def test_embedding_maximum_counts_every_text() -> None:
    request = EmbeddingRequest.model_validate({"model": "e", "input": ["ab", "abcd"]})
    assert embedding_maximum(request) == (1 + 2) + (2 + 2)
    assert embedding_maximum(EmbeddingRequest(model="e", input="x")) == 3


def test_no_limits_admit_everything_and_track_nothing(db: Database) -> None:
    q = quotas(db)
    who = caller(db)
    for _ in range(50):
        run(q.admit(who, requests=1, tokens=10**6)).settle()
    assert q.limiter.used(Subject("key", who.key_id)) is None
    assert q.limiter.used(Subject("tenant", who.tenant_id, "acme")) is None


def test_a_key_over_its_request_rate_is_refused_naming_the_limit(db: Database) -> None:
    q = quotas(db)
    who = caller(db)
    view = run(q.set_limits("key", who.key_id, {"requests_per_minute": 2, "tokens_per_day": None}))
    assert view.limits["requests_per_minute"] == 2 and view.limits["tokens_per_day"] is None
    assert view.remaining["requests_per_minute"] == 2
    run(q.admit(who, requests=1))
    run(q.admit(who, requests=1))
    with pytest.raises(QuotaExceeded) as refused:
        run(q.admit(who, requests=1))
    assert f"requests_per_minute of key {who.key_id}: 2 used of 2" in str(refused.value)
    assert refused.value.retry_after == pytest.approx(60.0, abs=1e-6)  # the clock stands still
    # Another key of the tenant is not bound by this key's limit.
    run(q.admit(caller(db), requests=1))
    # Cleared limits apply at once.
    run(q.set_limits("key", who.key_id, {}))
    run(q.admit(who, requests=1))


def test_a_request_larger_than_a_limit_is_invalid_input_with_its_param(db: Database) -> None:
    q = quotas(db)
    who = caller(db)
    run(q.set_limits("key", who.key_id, {"tokens_per_minute": 100}))
    with pytest.raises(InvalidInput) as too_big:
        run(q.admit(who, param="max_tokens", requests=1, tokens=101))
    assert too_big.value.param == "max_tokens"
    assert "tokens_per_minute" in str(too_big.value)
    chat = ChatCompletionRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 500}
    )
    with pytest.raises(InvalidInput) as generation:
        run(q.admit_generation(who, chat, context_length=4096))
    assert generation.value.param == "max_tokens"


def test_token_quotas_are_seeded_from_the_usage_table(db: Database) -> None:
    q = quotas(db)
    who = caller(db)
    record(db, who, 600, NOON - timedelta(hours=1))
    record(db, who, 300, NOON - timedelta(seconds=10))
    record(db, who, 10_000, NOON - timedelta(days=1))  # yesterday: not today's
    view = run(q.set_limits("key", who.key_id, {"tokens_per_day": 1000, "tokens_per_minute": 400}))
    assert view.used["tokens_per_day"] == 900
    assert view.used["tokens_per_minute"] == 300
    assert view.remaining == {
        "requests_per_minute": None,
        "tokens_per_minute": 100,
        "tokens_per_day": 100,
        "tokens_per_month": None,
    }
    run(q.admit(who, tokens=100)).settle()
    with pytest.raises(QuotaExceeded) as refused:
        run(q.admit(who, tokens=1))
    assert f"tokens_per_day of key {who.key_id}: 1000 used of 1000" in str(refused.value)
    assert refused.value.retry_after == pytest.approx(12 * 3600, abs=1)  # to the day's end


def test_a_tenant_limit_binds_every_key_of_the_tenant(db: Database) -> None:
    q = quotas(db)
    first, second = caller(db), caller(db)
    run(q.set_limits("tenant", "acme", {"tokens_per_month": 100}))
    run(q.admit(first, tokens=60))
    with pytest.raises(QuotaExceeded) as refused:
        run(q.admit(second, tokens=60))
    assert "tokens_per_month of tenant acme: 60 used of 100" in str(refused.value)
    assert "(this request needs up to 60)" in str(refused.value)
    run(q.admit(caller(db, "globex"), tokens=60))  # another tenant's keys are free


def test_a_settled_reservation_counts_what_was_used(db: Database) -> None:
    q = quotas(db)
    who = caller(db)
    run(q.set_limits("key", who.key_id, {"tokens_per_day": 100}))
    run(q.admit(who, requests=1, tokens=90)).settle(tokens=10)
    view = run(q.get_limits("key", who.key_id))
    assert view.used["tokens_per_day"] == 10 and view.remaining["tokens_per_day"] == 90
    run(q.admit(who, tokens=50)).release()
    assert run(q.get_limits("key", who.key_id)).used["tokens_per_day"] == 10


def test_a_refused_job_gives_its_place_back(db: Database) -> None:
    q = quotas(db)
    who = caller(db)
    with db.session() as session:  # submitted today, before this process started
        jobs.create_job(session, tenant_id=who.tenant_id, kind="training", spec={})
    view = run(q.set_limits("tenant", who.tenant_id, {"jobs_per_day": 2}))
    assert view.name == "acme" and view.used["jobs_per_day"] == 1

    async def submit(fail: bool) -> None:
        async with q.job(who):
            if fail:
                raise InvalidInput("refused by the service")

    with pytest.raises(InvalidInput):
        run(submit(True))
    run(submit(False))
    with pytest.raises(QuotaExceeded, match="jobs_per_day of tenant acme: 2 used of 2"):
        run(submit(False))


def test_an_upload_holds_its_least_size_then_its_real_one(db: Database) -> None:
    q = quotas(db)
    who = caller(db)
    run(q.set_limits("tenant", "acme", {"upload_bytes_per_day": 1000}))
    with pytest.raises(InvalidInput) as too_big:  # cannot fit whatever its framing
        run(q.admit_upload(who, str(MULTIPART_FRAMING + 1001)))
    assert too_big.value.param == "file"
    upload = run(q.admit_upload(who, None))  # no Content-Length: one byte
    assert run(q.get_limits("tenant", "acme")).used["upload_bytes_per_day"] == 1
    upload.received(400)
    upload.stored()
    upload.end()
    refused = run(q.admit_upload(who, "not a number"))
    refused.received(300)
    refused.end()  # not stored: its bytes come back
    assert run(q.get_limits("tenant", "acme")).used["upload_bytes_per_day"] == 400
    last = run(q.admit_upload(who, str(MULTIPART_FRAMING + 100)))
    with pytest.raises(QuotaExceeded, match="upload_bytes_per_day of tenant acme"):
        last.received(601)  # the real size is checked again
    assert run(q.get_limits("tenant", "acme")).used["upload_bytes_per_day"] == 400


def test_limits_of_keys_and_tenants_are_stored_and_checked(db: Database) -> None:
    q = quotas(db)
    who = caller(db)
    run(q.set_limits("tenant", "acme", {"jobs_per_day": 3, "upload_bytes_per_day": None}))
    fresh = Quotas(db, ttl_seconds=0)  # another process reads them from the registry
    tenant = run(fresh.get_limits("tenant", who.tenant_id))
    assert tenant.subject == "tenant" and tenant.id == who.tenant_id
    assert tenant.limits["jobs_per_day"] == 3 and tenant.limits["upload_bytes_per_day"] is None
    key = run(fresh.get_limits("key", who.key_id))
    assert key.subject == "key" and set(key.limits) == {
        "requests_per_minute",
        "tokens_per_minute",
        "tokens_per_day",
        "tokens_per_month",
    }
    with pytest.raises(NotFound) as missing_key:
        run(q.get_limits("key", "key-nope"))
    assert missing_key.value.param == "key_id"
    with pytest.raises(NotFound) as missing_tenant:
        run(q.set_limits("tenant", "nope", {"jobs_per_day": 1}))
    assert missing_tenant.value.param == "tenant"


def test_the_usage_report_shows_the_callers_key_or_tenant(db: Database) -> None:
    q = quotas(db)
    who, other = caller(db), caller(db)
    today = NOON.date()
    record(db, who, 10, NOON - timedelta(hours=1))
    record(db, who, 20, NOON - timedelta(hours=2))
    record(db, other, 5, NOON - timedelta(hours=1))
    record(db, who, 7, NOON - timedelta(days=40))  # before the default 30 days
    own = run(q.report(who, UsageQuery()))
    assert (own.start, own.end) == ((today - timedelta(days=29)).isoformat(), today.isoformat())
    [row] = own.data
    assert (row.key_id, row.requests, row.prompt_tokens) == (who.key_id, 2, 30)
    assert set(own.limits) == {"key", "tenant"} and own.limits["tenant"].name == "acme"
    whole = run(q.report(who, UsageQuery(scope="tenant")))
    assert {r.key_id for r in whole.data} == {who.key_id, other.key_id}
    assert set(whole.limits) == {"tenant"}
    operator = run(q.report(None, UsageQuery(start=today - timedelta(days=60), end=today)))
    assert sum(r.requests for r in operator.data) == 4 and operator.limits == {}
    by_key = run(q.report(None, UsageQuery(key=other.key_id, end=today)))
    assert [r.key_id for r in by_key.data] == [other.key_id]


def test_the_usage_report_refuses_what_it_cannot_answer(db: Database) -> None:
    q = quotas(db)
    who = caller(db)
    cases: list[tuple[Principal | None, UsageQuery, type[Exception], str]] = [
        (who, UsageQuery(tenant="acme"), Forbidden, "tenant"),
        (who, UsageQuery(key=who.key_id), Forbidden, "key"),
        (None, UsageQuery(tenant="acme", key=who.key_id), InvalidInput, "key"),
        (None, UsageQuery(start=date(1969, 12, 31)), InvalidInput, "start"),
        (None, UsageQuery(end=date(9000, 1, 2)), InvalidInput, "end"),
        (None, UsageQuery(start=date(2025, 2, 1), end=date(2025, 1, 1)), InvalidInput, "start"),
        (None, UsageQuery(start=date(2024, 1, 1), end=date(2025, 1, 1)), InvalidInput, "start"),
        (None, UsageQuery(tenant="nope"), NotFound, "tenant"),
    ]
    for who_asks, query, error, param in cases:
        with pytest.raises(error) as raised:
            run(q.report(who_asks, query))
        assert getattr(raised.value, "param", None) == param, query
    # 366 days, both ends included, is the most: the whole of 2024, a leap year.
    full = run(q.report(None, UsageQuery(start=date(2024, 1, 1), end=date(2024, 12, 31))))
    assert full.data == []


def test_run_locally_runs_on_a_quotas_of_its_own(db: Database) -> None:
    who = caller(db)

    async def work(q: Quotas) -> int | None:
        await q.set_limits("key", who.key_id, {"requests_per_minute": 1})
        return (await q.get_limits("key", who.key_id)).limits["requests_per_minute"]

    assert run_locally(db, work) == 1

"""The in-memory limiter: sliding minutes, calendar days and months (UTC) on an injected
clock, reserve / settle / release, Retry-After values, messages naming the limit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aimaas.errors import InvalidInput, QuotaExceeded
from aimaas.security.limits import (
    KEY_LIMITS,
    TENANT_LIMITS,
    Limiter,
    Limits,
    Subject,
    period_of,
    seconds_to_period_end,
)

KEY = Subject("key", "key-abc")
TENANT = Subject("tenant", "tn-1", "acme")


class Clock:
    def __init__(self, when: datetime) -> None:
        self.now = when.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[arg-type,misc]


@pytest.fixture
def clock() -> Clock:
    return Clock(at(2026, 3, 14, 12, 0, 0))


@pytest.fixture
def limiter(clock: Clock) -> Limiter:
    return Limiter(clock)


def refused(
    limiter: Limiter, checks: list[tuple[Subject, Limits]], **amounts: int
) -> QuotaExceeded:
    with pytest.raises(QuotaExceeded) as caught:
        limiter.reserve(checks, amounts)  # type: ignore[arg-type]
    return caught.value


def test_requests_per_minute_slides(limiter: Limiter, clock: Clock) -> None:
    checks = [(KEY, Limits(requests_per_minute=3))]
    for _ in range(3):
        limiter.reserve(checks, {"requests": 1})
        clock.advance(10)
    # Admitted at t=0, 10, 20; now t=30: the first frees at t=60.
    error = refused(limiter, checks, requests=1)
    assert error.retry_after == pytest.approx(30)
    assert "requests_per_minute of key key-abc: 3 used of 3" in error.message
    clock.advance(29.9)
    refused(limiter, checks, requests=1)
    clock.advance(0.2)
    limiter.reserve(checks, {"requests": 1})  # the one of t=0 slid out


def test_retry_after_waits_for_enough_to_free(limiter: Limiter, clock: Clock) -> None:
    checks = [(KEY, Limits(tokens_per_minute=100))]
    limiter.reserve(checks, {"tokens": 30})
    clock.advance(5)
    limiter.reserve(checks, {"tokens": 30})
    clock.advance(5)
    limiter.reserve(checks, {"tokens": 30})
    # 90 used; 60 more needs the first two (t=0 and t=5) to slide out: at t=65, 55 s away.
    error = refused(limiter, checks, tokens=60)
    assert error.retry_after == pytest.approx(55)
    assert "this request needs up to 60" in error.message
    # 10 more fits right now.
    limiter.reserve(checks, {"tokens": 10})


def test_settle_gives_back_what_was_not_used(limiter: Limiter) -> None:
    checks = [(KEY, Limits(tokens_per_minute=100, tokens_per_day=100))]
    first = limiter.reserve(checks, {"requests": 1, "tokens": 80})
    refused(limiter, checks, tokens=30)
    first.settle(tokens=25)
    used = limiter.used(KEY)
    assert used is not None
    assert used["tokens_per_minute"] == 25 and used["tokens_per_day"] == 25
    assert used["requests_per_minute"] == 1  # settle(tokens=...) keeps the request
    limiter.reserve(checks, {"tokens": 75})
    first.release()  # after settle: a no-op
    assert limiter.used(KEY)["tokens_per_day"] == 100  # type: ignore[index]


def test_release_gives_back_everything(limiter: Limiter) -> None:
    checks = [(KEY, Limits(requests_per_minute=1))]
    reservation = limiter.reserve(checks, {"requests": 1})
    refused(limiter, checks, requests=1)
    reservation.release()
    reservation.release()  # idempotent
    limiter.reserve(checks, {"requests": 1})
    assert limiter.used(KEY)["requests_per_minute"] == 1  # type: ignore[index]


def test_settle_may_exceed_what_was_reserved(limiter: Limiter) -> None:
    """What was used is counted, even past the limit: later requests wait for it."""
    checks = [(KEY, Limits(tokens_per_day=100))]
    limiter.reserve(checks, {"tokens": 50}).settle(tokens=120)
    error = refused(limiter, checks, tokens=1)
    assert "tokens_per_day of key key-abc: 120 used of 100" in error.message


def test_day_quota_resets_at_utc_midnight(clock: Clock) -> None:
    clock.now = at(2026, 3, 14, 23, 59, 0).timestamp()
    limiter = Limiter(clock)
    checks = [(KEY, Limits(tokens_per_day=1000))]
    limiter.reserve(checks, {"tokens": 1000})
    error = refused(limiter, checks, tokens=1)
    assert error.retry_after == pytest.approx(60)
    assert error.message.startswith("Limit reached: tokens_per_day of key key-abc: 1000 used")
    clock.advance(59)
    refused(limiter, checks, tokens=1)
    clock.advance(1)  # 00:00:00 on the 15th
    limiter.reserve(checks, {"tokens": 1000})


def test_month_quota_spans_days_and_resets_on_the_first(clock: Clock) -> None:
    clock.now = at(2026, 12, 30, 10, 0, 0).timestamp()
    limiter = Limiter(clock)
    checks = [(KEY, Limits(tokens_per_day=600, tokens_per_month=1000))]
    limiter.reserve(checks, {"tokens": 600})
    clock.advance(86_400)  # the 31st: the day is fresh, the month is not
    limiter.reserve(checks, {"tokens": 400})
    error = refused(limiter, checks, tokens=1)
    assert "tokens_per_month" in error.message
    # Until 2027-01-01T00:00Z, 14 hours away.
    assert error.retry_after == pytest.approx(14 * 3600)
    clock.now = at(2027, 1, 1, 0, 0, 1).timestamp()
    limiter.reserve(checks, {"tokens": 600})


def test_settle_after_midnight_counts_in_the_new_day(clock: Clock) -> None:
    clock.now = at(2026, 3, 14, 23, 59, 59).timestamp()
    limiter = Limiter(clock)
    checks = [(KEY, Limits(tokens_per_day=100))]
    reservation = limiter.reserve(checks, {"tokens": 100})
    clock.advance(2)
    reservation.settle(tokens=40)
    assert limiter.used(KEY)["tokens_per_day"] == 40  # type: ignore[index]


def test_key_and_tenant_both_bind_and_the_longest_wait_wins(limiter: Limiter, clock: Clock) -> None:
    other_key = Subject("key", "key-other")
    tenant_limits = Limits(requests_per_minute=100, tokens_per_day=50)
    checks = [(KEY, Limits(requests_per_minute=5)), (TENANT, tenant_limits)]
    limiter.reserve(checks, {"requests": 1, "tokens": 50})
    # Another key of the tenant: its own limits are free, the tenant's day is not.
    error = refused(limiter, [(other_key, Limits()), (TENANT, tenant_limits)], tokens=1)
    assert "tokens_per_day of tenant acme" in error.message
    for _ in range(4):
        limiter.reserve(checks, {"requests": 1})
    error = refused(limiter, checks, requests=1, tokens=1)
    # Both are over; the day (12 h to midnight) outlasts the minute.
    assert error.retry_after == pytest.approx(12 * 3600)
    assert "tenant acme" in error.message


def test_a_refusal_holds_nothing(limiter: Limiter) -> None:
    checks = [(KEY, Limits(requests_per_minute=10)), (TENANT, Limits(tokens_per_day=10))]
    limiter.reserve(checks, {"requests": 1, "tokens": 5})
    # The key has room, the tenant has not: nothing is held on either.
    refused(limiter, checks, requests=1, tokens=6)
    assert limiter.used(KEY)["requests_per_minute"] == 1  # type: ignore[index]
    assert limiter.used(TENANT)["tokens_per_day"] == 5  # type: ignore[index]


def test_more_than_a_limit_could_ever_allow_is_invalid(limiter: Limiter) -> None:
    checks = [(KEY, Limits(tokens_per_minute=100))]
    with pytest.raises(InvalidInput) as caught:
        limiter.reserve(checks, {"tokens": 101}, param="max_tokens")
    assert caught.value.param == "max_tokens"
    assert "tokens_per_minute of key key-abc allows (100)" in caught.value.message
    assert "max_tokens" in caught.value.message


def test_zero_blocks(limiter: Limiter) -> None:
    error = refused(limiter, [(KEY, Limits(requests_per_minute=0))], requests=1)
    assert error.retry_after == pytest.approx(60)
    assert "0 used of 0" in error.message


def test_subjects_without_limits_are_not_tracked(limiter: Limiter) -> None:
    limiter.reserve([(KEY, Limits()), (TENANT, Limits())], {"requests": 1, "tokens": 10**9})
    assert not limiter.is_tracked(KEY) and limiter.used(KEY) is None


def test_limits_set_later_see_what_was_counted_since_tracking(limiter: Limiter) -> None:
    limiter.reserve([(KEY, Limits(tokens_per_day=10**6))], {"tokens": 500})
    # The limits were lifted, then set again: the tracked usage still counts.
    limiter.reserve([(KEY, Limits())], {"tokens": 400})
    refused(limiter, [(KEY, Limits(tokens_per_day=1000))], tokens=101)


def test_seed_from_the_usage_table(limiter: Limiter, clock: Clock) -> None:
    now = clock()
    assert limiter.seed(
        KEY,
        at=now,
        day={"tokens": 900, "requests": 9},
        month={"tokens": 5000},
        recent=[(now - 50, "requests", 1), (now - 20, "requests", 1)],
    )
    assert not limiter.seed(KEY, at=now, day={"tokens": 0})  # in memory is newer
    checks = [(KEY, Limits(requests_per_minute=2, tokens_per_day=1000, tokens_per_month=5050))]
    error = refused(limiter, checks, requests=1)
    assert error.retry_after == pytest.approx(10)  # the one of 50 s ago slides out in 10 s
    clock.advance(10.5)
    limiter.reserve(checks, {"requests": 1, "tokens": 50})
    error = refused(limiter, checks, tokens=1)
    assert "tokens_per_month" in error.message or "tokens_per_day" in error.message


def test_seed_of_yesterday_does_not_count_today(clock: Clock) -> None:
    clock.now = at(2026, 3, 14, 23, 59, 59).timestamp()
    limiter = Limiter(clock)
    limiter.seed(KEY, at=clock(), day={"tokens": 1000})
    clock.advance(2)
    limiter.reserve([(KEY, Limits(tokens_per_day=1000))], {"tokens": 1000})


def test_resize_trades_a_hold_for_another(limiter: Limiter) -> None:
    checks = [(TENANT, Limits(upload_bytes_per_day=1000))]
    limiter.reserve(checks, {"upload_bytes": 200})
    hold = limiter.reserve(checks, {"upload_bytes": 100})
    bigger = hold.resize({"upload_bytes": 700})
    assert limiter.used(TENANT)["upload_bytes_per_day"] == 900  # type: ignore[index]
    with pytest.raises(QuotaExceeded):
        bigger.resize({"upload_bytes": 900})
    # A refused resize released the old hold all the same.
    assert limiter.used(TENANT)["upload_bytes_per_day"] == 200  # type: ignore[index]


def test_remaining(limiter: Limiter) -> None:
    limits = Limits(requests_per_minute=10, tokens_per_day=100)
    limiter.reserve([(KEY, limits)], {"requests": 3, "tokens": 40})
    remaining = limiter.remaining(KEY, limits)
    assert remaining["requests_per_minute"] == 7 and remaining["tokens_per_day"] == 60
    assert remaining["tokens_per_month"] is None


def test_many_concurrent_admissions_never_overshoot(limiter: Limiter) -> None:
    checks = [(KEY, Limits(requests_per_minute=10))]
    admitted = 0
    for _ in range(50):
        try:
            limiter.reserve(checks, {"requests": 1})
            admitted += 1
        except QuotaExceeded as exc:
            assert 0 < exc.retry_after <= 60
    assert admitted == 10


def test_limits_from_stored_json() -> None:
    limits = Limits.from_mapping({"tokens_per_day": 5, "bogus": 1, "requests_per_minute": True})
    assert limits.items() == [("tokens_per_day", 5)]
    assert Limits.from_mapping(None).empty
    assert set(KEY_LIMITS) < set(TENANT_LIMITS)


def test_periods() -> None:
    moment = at(2024, 2, 29, 18, 0, 0).timestamp()
    assert period_of("day", moment) == (2024, 2, 29) and period_of("month", moment) == (2024, 2)
    assert seconds_to_period_end("day", moment) == 6 * 3600
    assert seconds_to_period_end("month", moment) == 6 * 3600

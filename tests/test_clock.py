"""clock.py: the system clock's two readings, and the test clock fitting the same protocol."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aimaas.clock import SYSTEM_CLOCK, Clock, SystemClock
from tests.clock import ManualClock


def test_monotonic_never_goes_back() -> None:
    readings = [SYSTEM_CLOCK.monotonic() for _ in range(1000)]
    assert readings == sorted(readings)


def test_now_is_timezone_aware_utc_and_the_present() -> None:
    before = datetime.now(UTC)
    now = SystemClock().now()
    after = datetime.now(UTC)
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)
    assert before <= now <= after


def test_a_moved_clock_is_a_clock() -> None:
    clock: Clock = ManualClock()  # mypy checks the protocol; this checks it moves
    start, now = clock.monotonic(), clock.now()
    assert isinstance(clock, ManualClock)
    clock.advance(90.5)
    assert clock.monotonic() - start == 90.5
    assert clock.now() - now == timedelta(seconds=90.5)

"""Rate limits and quotas, kept in memory: pure bookkeeping, no I/O, no awaits.

A *subject* is a key or a tenant. What is counted (the *meter*): requests, tokens, job
submissions, uploaded bytes. Over which *window*: a sliding minute, the calendar UTC day, the
calendar UTC month. A limit names a meter and a window: ``tokens_per_day`` and so on.

Admission reserves a request's maximum on every window of every subject at once, in one
synchronous call: on one event loop nothing runs between the check and the reservation, so
50 concurrent requests against 10 remaining let at most 10 through. When the request ends,
``settle`` replaces what was reserved with what was used (a request that used fewer tokens
than its maximum gives the rest back), and ``release`` gives it all back. Both are
idempotent: the first of them counts, so a ``finally`` may call ``release`` after ``settle``.

The quota service (security/quotas.py) seeds a subject from the usage table the first time
it has limits, and from then on this module is the source of truth for that process.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Literal

from aimaas.errors import InvalidInput, QuotaExceeded

Meter = Literal["requests", "tokens", "jobs", "upload_bytes"]
Window = Literal["minute", "day", "month"]
METERS: tuple[Meter, ...] = ("requests", "tokens", "jobs", "upload_bytes")
CALENDAR: tuple[Window, ...] = ("day", "month")
MINUTE = 60.0

# Each limit: what it counts and over which window.
LIMITS: dict[str, tuple[Meter, Window]] = {
    "requests_per_minute": ("requests", "minute"),
    "tokens_per_minute": ("tokens", "minute"),
    "tokens_per_day": ("tokens", "day"),
    "tokens_per_month": ("tokens", "month"),
    "jobs_per_day": ("jobs", "day"),
    "upload_bytes_per_day": ("upload_bytes", "day"),
}
KEY_LIMITS: tuple[str, ...] = (
    "requests_per_minute",
    "tokens_per_minute",
    "tokens_per_day",
    "tokens_per_month",
)
TENANT_LIMITS: tuple[str, ...] = (*KEY_LIMITS, "jobs_per_day", "upload_bytes_per_day")

_TOO_BIG_HINT: dict[Meter, str] = {
    "requests": "",
    "tokens": "lower 'max_tokens' (or 'n'), or shorten the input",
    "jobs": "",
    "upload_bytes": "upload a smaller file",
}


@dataclass(frozen=True)
class Limits:
    """A subject's limits; None means no limit, 0 means nothing is allowed."""

    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    tokens_per_day: int | None = None
    tokens_per_month: int | None = None
    jobs_per_day: int | None = None
    upload_bytes_per_day: int | None = None

    @classmethod
    def from_mapping(cls, values: Mapping[str, object] | None) -> Limits:
        """From a stored JSON object; unknown names and non-integers are ignored."""
        chosen: dict[str, int] = {}
        for name, value in (values or {}).items():
            if name in LIMITS and isinstance(value, int) and not isinstance(value, bool):
                chosen[name] = max(0, value)
        return cls(**chosen)

    def items(self) -> list[tuple[str, int]]:
        """The limits that are set, as (name, value)."""
        return [
            (f.name, value) for f in fields(self) if (value := getattr(self, f.name)) is not None
        ]

    def as_dict(self, names: Sequence[str] = TENANT_LIMITS) -> dict[str, int | None]:
        return {name: getattr(self, name) for name in names}

    @property
    def empty(self) -> bool:
        return not self.items()


@dataclass(frozen=True)
class Subject:
    """A key or a tenant; ``label`` is what messages show (a tenant's name, say)."""

    kind: Literal["key", "tenant"]
    id: str
    label: str | None = field(default=None, compare=False, hash=False)

    def __str__(self) -> str:
        return f"{self.kind} {self.label or self.id}"


def period_of(window: Window, when: float) -> tuple[int, ...]:
    """The calendar period (UTC) that ``when`` falls in: (y, m, d) for a day, (y, m)."""
    moment = datetime.fromtimestamp(when, UTC)
    if window == "day":
        return (moment.year, moment.month, moment.day)
    return (moment.year, moment.month)


def period_start(window: Window, when: float) -> datetime:
    moment = datetime.fromtimestamp(when, UTC)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return day if window == "day" else day.replace(day=1)


def seconds_to_period_end(window: Window, when: float) -> float:
    start = period_start(window, when)
    if window == "day":
        end = start + timedelta(days=1)
    else:
        end = (
            start.replace(year=start.year + 1, month=1)
            if start.month == 12
            else (start.replace(month=start.month + 1))
        )
    return max(0.0, end.timestamp() - when)


@dataclass(eq=False)
class _Event:
    """One admission's amount in a sliding minute."""

    at: float
    amount: int
    live: bool = True  # False once it has slid out of the window


@dataclass(eq=False)
class _Counter:
    """A calendar period's total."""

    period: tuple[int, ...]
    amount: int = 0


@dataclass(eq=False)
class _State:
    minute: dict[Meter, deque[_Event]] = field(default_factory=dict)
    minute_total: dict[Meter, int] = field(default_factory=dict)
    counters: dict[tuple[Meter, Window], _Counter] = field(default_factory=dict)

    def events(self, meter: Meter, now: float) -> deque[_Event]:
        """The meter's events of the last minute (older ones are dropped here)."""
        events = self.minute.setdefault(meter, deque())
        while events and events[0].at <= now - MINUTE:
            old = events.popleft()
            old.live = False
            self.minute_total[meter] = self.minute_total.get(meter, 0) - old.amount
        return events

    def counter(self, meter: Meter, window: Window, now: float) -> _Counter:
        period = period_of(window, now)
        counter = self.counters.get((meter, window))
        if counter is None or counter.period != period:
            counter = self.counters[(meter, window)] = _Counter(period)
        return counter

    def used(self, meter: Meter, window: Window, now: float) -> int:
        if window == "minute":
            self.events(meter, now)
            return self.minute_total.get(meter, 0)
        return self.counter(meter, window, now).amount


@dataclass(eq=False)
class _Hold:
    state: _State
    meter: Meter
    window: Window
    amount: int
    event: _Event | None = None
    counter: _Counter | None = None


@dataclass(frozen=True)
class Refusal:
    """One limit a request does not fit in."""

    subject: Subject
    limit: str
    value: int
    used: int
    need: int
    retry_after: float

    @property
    def message(self) -> str:
        needs = f" (this request needs up to {self.need})" if self.need > 1 else ""
        return (
            f"Limit reached: {self.limit} of {self.subject}: {self.used} used of "
            f"{self.value}{needs}; retry in {max(1, math.ceil(self.retry_after))} s."
        )


class Reservation:
    """What one admitted request holds until it settles or releases."""

    def __init__(
        self,
        limiter: Limiter,
        checks: Sequence[tuple[Subject, Limits]],
        amounts: Mapping[Meter, int],
        holds: list[_Hold],
    ) -> None:
        self._limiter = limiter
        self.checks = list(checks)
        self.amounts = dict(amounts)
        self._holds = holds
        self.done = False

    def settle(self, **used: int) -> None:
        """Replace the reserved amounts with what was used; meters not named keep what
        was reserved (``settle(tokens=57)`` keeps the one request)."""
        if self.done:
            return
        self.done = True
        now = self._limiter.clock()
        for hold in self._holds:
            actual = max(0, int(used.get(hold.meter, hold.amount)))
            delta = actual - hold.amount
            if hold.event is not None:
                hold.event.amount = actual
                if hold.event.live:
                    total = hold.state.minute_total
                    total[hold.meter] = total.get(hold.meter, 0) + delta
            elif hold.counter is not None:
                current = hold.state.counter(hold.meter, hold.window, now)
                if current is hold.counter:
                    current.amount += delta
                else:  # the day or month turned meanwhile: the usage counts in the new one
                    current.amount += actual

    def release(self) -> None:
        """Give everything back: nothing was used (or it failed before it did anything)."""
        self.settle(**dict.fromkeys(METERS, 0))

    def resize(self, amounts: Mapping[Meter, int], *, param: str | None = None) -> Reservation:
        """Trade this reservation for one of ``amounts`` (checked against the limits like a
        new admission; on refusal this one is released all the same)."""
        self.release()
        return self._limiter.reserve(self.checks, amounts, param=param)


class Limiter:
    """The in-memory windows of every subject that has (or had) limits."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._states: dict[Subject, _State] = {}

    # --- seeding -----------------------------------------------------------------------

    def is_tracked(self, subject: Subject) -> bool:
        return subject in self._states

    def seed(
        self,
        subject: Subject,
        *,
        at: float,
        day: Mapping[Meter, int] | None = None,
        month: Mapping[Meter, int] | None = None,
        recent: Iterable[tuple[float, Meter, int]] = (),
    ) -> bool:
        """Start tracking ``subject`` with what it used before (read at time ``at``): the
        totals of its current day and month, and its events of the last minute. A no-op if
        it is tracked already (what is in memory is newer). True if it seeded."""
        if subject in self._states:
            return False
        state = _State()
        for window, totals in zip(CALENDAR, (day, month), strict=True):
            for meter, amount in (totals or {}).items():
                state.counters[(meter, window)] = _Counter(period_of(window, at), int(amount))
        for at_time, meter, amount in sorted(recent, key=lambda event: event[0]):
            state.minute.setdefault(meter, deque()).append(_Event(at_time, int(amount)))
            state.minute_total[meter] = state.minute_total.get(meter, 0) + int(amount)
        self._states[subject] = state
        return True

    # --- admission ---------------------------------------------------------------------

    def reserve(
        self,
        checks: Sequence[tuple[Subject, Limits]],
        amounts: Mapping[Meter, int],
        *,
        param: str | None = None,
    ) -> Reservation:
        """Check ``amounts`` against every subject's limits and, if all fit, hold them.

        Raises QuotaExceeded (429, Retry-After: the longest wait among the limits it does
        not fit in), or InvalidInput when the request is larger than a limit could ever
        allow (retrying would not help). Subjects without limits are not tracked."""
        now = self.clock()
        tracked = [(s, lim) for s, lim in checks if not lim.empty or s in self._states]
        refusals: list[Refusal] = []
        for subject, limits in tracked:
            state = self._states.setdefault(subject, _State())
            for name, value in limits.items():
                meter, window = LIMITS[name]
                need = int(amounts.get(meter, 0))
                if need <= 0:
                    continue
                if 0 < value < need:
                    hint = _TOO_BIG_HINT[meter]
                    raise InvalidInput(
                        f"This request may use up to {need} {meter.replace('_', ' ')}, more "
                        f"than {name} of {subject} allows ({value})"
                        + (f": {hint}." if hint else "."),
                        param=param,
                    )
                used = state.used(meter, window, now)
                if used + need > value:
                    wait = self._wait(state, meter, window, used + need - value, value, now)
                    refusals.append(Refusal(subject, name, value, used, need, wait))
        if refusals:
            worst = max(refusals, key=lambda refusal: refusal.retry_after)
            raise QuotaExceeded(worst.message, retry_after=worst.retry_after)
        holds: list[_Hold] = []
        for subject, _ in tracked:
            state = self._states[subject]
            for meter, amount in amounts.items():
                if amount <= 0:
                    continue
                event = _Event(now, int(amount))
                state.events(meter, now).append(event)
                state.minute_total[meter] = state.minute_total.get(meter, 0) + int(amount)
                holds.append(_Hold(state, meter, "minute", int(amount), event=event))
                for window in CALENDAR:
                    counter = state.counter(meter, window, now)
                    counter.amount += int(amount)
                    holds.append(_Hold(state, meter, window, int(amount), counter=counter))
        return Reservation(self, checks, amounts, holds)

    @staticmethod
    def _wait(
        state: _State, meter: Meter, window: Window, excess: int, value: int, now: float
    ) -> float:
        """Seconds until ``excess`` more fits: a sliding minute frees its oldest events
        first; a day or month frees all at its end."""
        if window != "minute":
            return seconds_to_period_end(window, now)
        if value == 0:
            return MINUTE
        freed = 0
        for event in state.events(meter, now):
            freed += event.amount
            if freed >= excess:
                return max(0.0, event.at + MINUTE - now)
        return MINUTE

    # --- reading -----------------------------------------------------------------------

    def used(self, subject: Subject) -> dict[str, int] | None:
        """Each limit's current use (reservations in flight included), or None if the
        subject is not tracked."""
        state = self._states.get(subject)
        if state is None:
            return None
        now = self.clock()
        return {name: state.used(meter, window, now) for name, (meter, window) in LIMITS.items()}

    def remaining(self, subject: Subject, limits: Limits) -> dict[str, int | None]:
        """What is left under each limit that is set (None for no limit)."""
        used = self.used(subject) or dict.fromkeys(LIMITS, 0)
        return {
            name: None if value is None else max(0, value - used[name])
            for name, value in ((n, getattr(limits, n)) for n in LIMITS)
        }

"""Which tier runs: ``make test-fast`` (``-m "not e2e"``) or the whole suite.

The helpers that start processes (``start_server``, ``postgres_server``) ask first, so a test
that starts one without being marked ``e2e`` fails in the fast tier instead of slowing it.
"""

from __future__ import annotations

import pytest

fast = False


def refuse_in_fast_tier(what: str) -> None:
    if fast:
        pytest.fail(
            f"this test starts {what}, a real process: it belongs to the e2e tier "
            "(use the live_server fixture, put it under tests/e2e, or mark it pytest.mark.e2e)"
        )

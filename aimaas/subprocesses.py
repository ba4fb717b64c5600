"""Child processes that must not outlive aimaas, even after ``kill -9``."""

from __future__ import annotations

import ctypes
import signal

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """``preexec_fn`` for Popen: the child gets SIGKILL when the thread that forked it dies.

    Fork from a thread that lives as long as the server (the event loop's)."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)

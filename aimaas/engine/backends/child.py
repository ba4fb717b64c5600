"""A native engine child process: how it ended, and the last lines it wrote to stderr.

A child that dies (a segfault in a CPU-specific kernel, an abort, an out-of-memory kill)
leaves two clues: the signal or exit code, and what it printed last. Both are kept so the
log can say how it died; the stderr tail is bounded, so a chatty child costs a few KiB.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections import deque
from typing import IO

TAIL_LINES = 40
MAX_LINE = 400  # characters kept of one line


def describe_exit(returncode: int | None) -> str:
    """'SIGSEGV (signal 11)', 'exit code 1', or 'running' for a child still alive."""
    if returncode is None:
        return "running"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = "an unknown signal"
        return f"{name} (signal {-returncode})"
    return f"exit code {returncode}"


class StderrTail:
    """Reads a child's stderr on a daemon thread, keeping its last ``lines`` lines.

    With ``echo``, every line is also written to this process's stderr (llama_log)."""

    def __init__(self, stream: IO[bytes], *, lines: int = TAIL_LINES, echo: bool = False):
        self._lines: deque[str] = deque(maxlen=lines)
        self._lock = threading.Lock()
        self._echo = echo
        self._thread = threading.Thread(
            target=self._read, args=(stream,), name="child-stderr", daemon=True
        )
        self._thread.start()

    def _read(self, stream: IO[bytes]) -> None:
        with stream:
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", errors="replace").rstrip()
                if self._echo:
                    print(line, file=sys.stderr, flush=True)
                if line:
                    with self._lock:
                        self._lines.append(line[:MAX_LINE])

    def wait_closed(self, timeout: float = 2.0) -> None:
        """Wait until the child's end of the pipe is closed (everything it wrote is read)."""
        self._thread.join(timeout)

    def text(self, lines: int = 8) -> str:
        """The last ``lines`` lines, joined with ' | ' for one log line."""
        with self._lock:
            tail = list(self._lines)[-lines:]
        return " | ".join(tail) if tail else "(nothing on stderr)"

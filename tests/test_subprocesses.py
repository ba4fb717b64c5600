"""subprocesses.py: a child started with ``die_with_parent`` is killed when the thread that
forked it ends, as the kernel's parent-death signal promises (tiny real children, no server)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading

from aimaas.subprocesses import die_with_parent

# The child asks the kernel for its own parent-death signal (prctl PR_GET_PDEATHSIG).
_READ_PDEATHSIG = (
    "import ctypes; libc = ctypes.CDLL('libc.so.6'); value = ctypes.c_int(-1); "
    "libc.prctl(2, ctypes.byref(value)); print(value.value)"
)


def test_the_child_is_told_to_get_sigkill() -> None:
    run = [sys.executable, "-c", _READ_PDEATHSIG]
    with_it = subprocess.run(run, preexec_fn=die_with_parent, capture_output=True, check=True)
    without = subprocess.run(run, capture_output=True, check=True)
    assert int(with_it.stdout) == signal.SIGKILL
    assert int(without.stdout) == 0


def test_the_child_dies_with_the_thread_that_started_it() -> None:
    started: list[subprocess.Popen[bytes]] = []

    def fork() -> None:  # ``cat`` on an open pipe waits for input for ever
        started.append(subprocess.Popen(["cat"], stdin=subprocess.PIPE, preexec_fn=die_with_parent))

    thread = threading.Thread(target=fork)
    thread.start()
    thread.join()
    child = started[0]
    try:
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        assert child.stdin is not None
        child.stdin.close()

"""child.py: how a child process ended, in words, and the bounded tail of its stderr read
from a real pipe."""

from __future__ import annotations

import os

import pytest

from aimaas.engine.backends.child import MAX_LINE, TAIL_LINES, StderrTail, describe_exit


@pytest.mark.parametrize(
    ("returncode", "words"),
    [
        (None, "running"),
        (0, "exit code 0"),
        (3, "exit code 3"),
        (-11, "SIGSEGV (signal 11)"),
        (-9, "SIGKILL (signal 9)"),
        (-4, "SIGILL (signal 4)"),
        (-200, "an unknown signal (signal 200)"),
    ],
)
def test_an_exit_is_described_by_its_signal_or_code(returncode: int | None, words: str) -> None:
    assert describe_exit(returncode) == words


def tail_of(data: bytes, *, lines: int = TAIL_LINES, echo: bool = False) -> StderrTail:
    """A StderrTail over a pipe that receives ``data`` and is then closed."""
    read, write = os.pipe()
    tail = StderrTail(os.fdopen(read, "rb"), lines=lines, echo=echo)
    with os.fdopen(write, "wb") as end:
        end.write(data)
    tail.wait_closed()
    return tail


def test_the_last_lines_are_kept_bounded_and_joined() -> None:
    lines = b"".join(b"line %d\n" % i for i in range(100))
    tail = tail_of(lines, lines=5)
    assert tail.text() == "line 95 | line 96 | line 97 | line 98 | line 99"  # 5 kept
    assert tail.text(lines=2) == "line 98 | line 99"
    assert tail_of(lines).text() == " | ".join(f"line {i}" for i in range(92, 100))


def test_empty_long_and_undecodable_lines() -> None:
    data = b"first\r\n\n   \n" + b"x" * 1000 + b"\n\xff\xfe bad bytes\nno newline at the end"
    parts = tail_of(data).text().split(" | ")
    assert parts[0] == "first"  # empty and blank lines are not kept, \r is stripped
    assert parts[1] == "x" * MAX_LINE
    assert parts[2] == "\ufffd\ufffd bad bytes"
    assert parts[3:] == ["no newline at the end"]


def test_a_silent_child_says_so() -> None:
    assert tail_of(b"").text() == "(nothing on stderr)"
    assert tail_of(b"\n\n").text() == "(nothing on stderr)"


def test_echo_writes_every_line_to_our_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    tail = tail_of(b"loading\n\nfailed\n", echo=True)
    assert capsys.readouterr().err == "loading\n\nfailed\n"
    assert tail.text() == "loading | failed"

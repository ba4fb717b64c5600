"""Logging set-up (aimaas/observability/logging.py): JSON lines with the record's extra
fields and its exception, or plain text; the root logger and uvicorn's loggers rewired."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from aimaas.observability.logging import JsonLineFormatter, configure_logging


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    names = ("uvicorn", "uvicorn.error", "uvicorn.access")
    others = {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).propagate,
                  logging.getLogger(n).disabled) for n in names}  # fmt: skip
    yield
    root.handlers[:], level = saved
    root.setLevel(level)
    for name, (handlers, propagate, disabled) in others.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.propagate, logger.disabled = propagate, disabled


def _record(**extra: object) -> logging.LogRecord:
    record = logging.makeLogRecord(
        {"name": "aimaas.test", "levelname": "WARNING", "levelno": 30, "msg": "n=%d",
         "args": (3,), "created": 0.5, **extra}
    )  # fmt: skip
    return record


def test_a_json_line_has_time_level_logger_message_and_extras() -> None:
    line = JsonLineFormatter().format(_record(request_id="req-1", tokens=12, path=None))
    entry = json.loads(line)
    assert entry == {
        "ts": "1970-01-01T00:00:00.500+00:00",
        "level": "warning",
        "logger": "aimaas.test",
        "message": "n=3",
        "request_id": "req-1",
        "tokens": 12,
        "path": None,
    }
    assert "\n" not in line


def test_a_json_line_carries_the_exception_and_stringifies_what_json_cannot() -> None:
    try:
        raise ValueError("bad value")
    except ValueError:
        import sys

        record = _record(exc_info=sys.exc_info(), when={1, 2}.__class__)
    entry = json.loads(JsonLineFormatter().format(record))
    assert "ValueError: bad value" in entry["exception"]
    assert entry["when"] == "<class 'set'>"


def test_configure_logging_json(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(fmt="json", level="info")
    root = logging.getLogger()
    assert root.level == logging.INFO and len(root.handlers) == 1
    assert isinstance(root.handlers[0].formatter, JsonLineFormatter)
    assert logging.getLogger("uvicorn.access").disabled
    for name in ("uvicorn", "uvicorn.error"):
        assert logging.getLogger(name).handlers == [] and logging.getLogger(name).propagate
    logging.getLogger("aimaas.x").info("hello", extra={"model": "m"})
    logging.getLogger("aimaas.x").debug("not shown")
    lines = capsys.readouterr().err.strip().splitlines()
    assert [json.loads(line)["message"] for line in lines] == ["hello"]
    assert json.loads(lines[0])["model"] == "m"


def test_configure_logging_text(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(fmt="text", level="debug")
    assert logging.getLogger().level == logging.DEBUG
    logging.getLogger("aimaas.y").debug("plain")
    err = capsys.readouterr().err
    assert err.rstrip().endswith("DEBUG aimaas.y plain") and not err.startswith("{")

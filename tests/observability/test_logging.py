"""Log lines as JSON: one object per line, with the record's extra fields and its exception;
configure_logging routes uvicorn's loggers through the root handler."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from aimaas.observability.logging import JsonLineFormatter, configure_logging


def test_a_json_line_carries_the_message_extras_and_exception() -> None:
    logger = logging.getLogger("aimaas.test")
    try:
        raise ValueError("boom")
    except ValueError:
        record = logger.makeRecord(
            "aimaas.test", logging.WARNING, __file__, 1, "a %s", ("b",), exc_info=sys.exc_info(),
            extra={"request_id": "r-1", "status": 503},
        )  # fmt: skip
    line = JsonLineFormatter().format(record)
    entry = json.loads(line)
    assert "\n" not in line
    assert entry["message"] == "a b" and entry["level"] == "warning"
    assert entry["logger"] == "aimaas.test" and entry["request_id"] == "r-1"
    assert entry["status"] == 503 and "ValueError: boom" in entry["exception"]
    assert entry["ts"].endswith("+00:00")


def test_uvicorn_logs_through_the_root_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    configure_logging(fmt="json", level="info")
    assert len(root.handlers) == 1 and isinstance(root.handlers[0].formatter, JsonLineFormatter)
    assert root.level == logging.INFO
    error = logging.getLogger("uvicorn.error")
    assert error.handlers == [] and error.propagate
    assert logging.getLogger("uvicorn.access").disabled
    logging.getLogger("uvicorn.access").disabled = False

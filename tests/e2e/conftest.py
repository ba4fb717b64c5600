from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import LiveServer, start_server


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = start_server(tmp_path / "data", args=["--log-format", "json"])
    try:
        yield server
    finally:
        server.stop()

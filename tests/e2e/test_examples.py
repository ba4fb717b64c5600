"""The learning lab: every script in examples/ runs against a live server and succeeds
(each exits non-zero when something it shows does not hold)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import LiveServer, start_server

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).parents[2] / "examples"
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py") if p.name != "aimaas_client.py")


def test_every_algorithm_has_an_example() -> None:
    from aimaas.learn.algorithms import ALGORITHMS

    assert {name.removesuffix(".py") for name in SCRIPTS} == set(ALGORITHMS)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {"AIMAAS_ENGINE__DEFAULT_MODELS": "false"}
    with start_server(tmp_path_factory.mktemp("examples") / "data", env=env) as live:
        yield live


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_runs(server: LiveServer, script: str) -> None:
    env = {"AIMAAS_URL": server.url, "AIMAAS_API_KEY": server.admin_key, "PATH": "/usr/bin"}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, f"{script}:\n{result.stdout}\n{result.stderr}"
    assert elapsed < 90, f"{script} took {elapsed:.0f}s; an example should finish in a minute"

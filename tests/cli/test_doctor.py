"""``aimaas doctor`` as a user runs it: a real process, the real default models."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from aimaas.config import default_llama_server_binary
from aimaas.runtime.defaults import DEFAULT_MODELS
from tests import tier
from tests.e2e.test_native_fallback import fake_binary

pytestmark = pytest.mark.e2e


def doctor(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    tier.refuse_in_fast_tier("aimaas doctor")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AIMAAS_")}
    return subprocess.run(
        [sys.executable, "-m", "aimaas", "doctor", "--data-dir", str(tmp_path), *args],
        env={**clean, "COLUMNS": "250", **env},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_every_default_model_loads_and_answers_on_the_native_build(tmp_path: Path) -> None:
    binary = default_llama_server_binary()
    assert binary.is_file(), f"{binary} is missing: `make native` builds it"
    result = doctor(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "CPU:" in result.stdout and "avx2" in result.stdout
    assert "passed its check" in result.stdout
    rows = {line.split()[1]: line for line in result.stdout.splitlines() if "│" in line[:3]}
    for model in DEFAULT_MODELS:
        row = rows[model.name]
        assert " ok " in row, row
        if model.format == "gguf":
            assert "llama-server" in row
    assert "Paris" in rows["qwen2.5-coder-1.5b-instruct"]
    assert "everything works here" in result.stdout


def test_a_crashing_binary_is_named_and_the_models_run_on_the_fallback(tmp_path: Path) -> None:
    result = doctor(
        tmp_path,
        "--model",
        "smollm2-135m-instruct",
        AIMAAS_ENGINE__LLAMA_SERVER_BINARY=str(fake_binary(tmp_path)),
        FAKE_LLAMA_MODE="start",
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "failed its check" in result.stdout and "SIGSEGV" in result.stdout
    row = next(line for line in result.stdout.splitlines() if "smollm2-135m-instruct" in line)
    assert "xllamacpp" in row and " ok " in row
    assert result.stdout.strip().splitlines()[-1] == "broken: llama-server"

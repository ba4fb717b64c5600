"""native.py without llama-server: what the check reports for a binary that dies, hangs or
is missing (a stand-in executable), and NativeEngine's states: which binary models get, and
when it is set aside for the xllamacpp fallback. A binary that passes needs the real
llama-server (tests/e2e)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from aimaas.engine.native import FallbackCause, NativeEngine, check_binary
from aimaas.errors import EngineDied
from tests.engine.conftest import fake_binary

DIES = "sys.stderr.write('ggml: illegal instruction\\n'); sys.stderr.flush(); sys.exit(4)"


def test_a_binary_that_dies_fails_its_check_with_its_last_words(
    tmp_path: Path, smollm2_gguf: Path
) -> None:
    result = asyncio.run(check_binary(fake_binary(tmp_path, DIES), smollm2_gguf))
    assert not result.ok and result.seconds > 0
    assert result.detail == (
        "llama-server for 'native-check' died while starting (exit code 4). "
        "Last stderr: ggml: illegal instruction"
    )


def test_a_binary_that_hangs_or_is_missing_fails_its_check(
    tmp_path: Path, smollm2_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hangs = fake_binary(tmp_path, "time.sleep(600)")
    result = asyncio.run(check_binary(hangs, smollm2_gguf, timeout=1))
    assert not result.ok
    assert result.detail == "llama-server for 'native-check' did not start in 1s."
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))  # the folder a failed start leaves
    missing = asyncio.run(check_binary(tmp_path / "absent", smollm2_gguf))
    assert not missing.ok and "No such file or directory" in missing.detail


def test_a_binary_that_fails_its_check_is_set_aside(tmp_path: Path, smollm2_gguf: Path) -> None:
    binary = fake_binary(tmp_path, DIES)
    engine = NativeEngine(binary, check_model=smollm2_gguf)
    assert (engine.state, engine.reason) == ("unchecked", "not checked")

    async def scenario() -> Path | None:
        engine.start_check()
        assert engine.state == "checking"
        chosen = await engine.binary()  # waits for the check
        await engine.aclose()
        return chosen

    assert asyncio.run(scenario()) is None  # models run on xllamacpp
    assert engine.state == "broken" and engine.fallback_cause == "check_failed"
    assert engine.reason.startswith("failed its check: llama-server for 'native-check' died")


def test_a_required_binary_is_used_even_when_its_check_fails(
    tmp_path: Path, smollm2_gguf: Path
) -> None:
    binary = fake_binary(tmp_path, DIES)
    engine = NativeEngine(binary, check_model=smollm2_gguf, required=True)

    async def scenario() -> Path | None:
        engine.start_check()
        return await engine.binary()

    assert asyncio.run(scenario()) == binary  # the failure is the answer, no fallback
    assert engine.state == "broken" and engine.fallback_cause is None


def test_without_a_binary_or_a_check_model() -> None:
    absent = NativeEngine(None, check_model=None)
    assert (absent.state, absent.reason) == ("absent", "no llama-server binary is built")
    unchecked = NativeEngine(Path("/opt/llama-server"), check_model=None)

    async def scenario() -> tuple[Path | None, Path | None]:
        absent.start_check()  # nothing to check: no task starts
        unchecked.start_check()
        return await absent.binary(), await unchecked.binary()

    assert asyncio.run(scenario()) == (None, Path("/opt/llama-server"))
    assert unchecked.state == "unchecked"  # trusted without a check


@pytest.mark.parametrize("when", ["died_starting", "died_serving"])
def test_a_child_that_dies_sets_the_binary_aside(when: FallbackCause) -> None:
    engine = NativeEngine(Path("/opt/llama-server"), check_model=None)
    died = EngineDied("llama-server for 'm' died.", how="SIGSEGV (signal 11)", stderr="x")
    engine.died("m", died, when=when)
    assert engine.state == "broken" and engine.fallback_cause == when
    assert engine.reason == "had a child die with SIGSEGV (signal 11) (model 'm')"
    assert asyncio.run(engine.binary()) is None
    required = NativeEngine(Path("/opt/llama-server"), check_model=None, required=True)
    required.died("m", died, when="died_serving")
    assert required.state == "broken" and required.fallback_cause is None
    assert asyncio.run(required.binary()) == Path("/opt/llama-server")

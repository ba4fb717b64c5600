"""The build script's smoke check (aimaas/runtime/native_check.py), what runs in process:
its usage refusal. Running a real binary is the e2e tier's (no llama-server starts here)."""

from __future__ import annotations

import pytest

from aimaas.runtime.native_check import main


@pytest.mark.parametrize("argv", [[], ["binary", "model.gguf", "extra"]])
def test_wrong_arguments_print_the_usage_and_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == "usage: python -m aimaas.runtime.native_check BINARY [GGUF]\n"

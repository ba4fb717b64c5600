"""A native llama-server binary that dies with SIGSEGV (as ggml's AMX kernels did on
Sapphire Rapids) never costs a user an answer: the chat is answered on xllamacpp, the log
names the signal and the child's last stderr lines, and /metrics counts the fallback.

The stand-in binary is a real executable (tests/e2e/fake_llama_server.py) that kills
itself with SIGSEGV at start, at a model load after passing the check, or on a chat."""

from __future__ import annotations

import os
import re
import stat
import sys
from pathlib import Path

import openai
import pytest

from tests.e2e.server import LiveServer, start_server

pytestmark = pytest.mark.e2e

CHAT = "smollm2-135m-instruct"
FAKE = Path(__file__).with_name("fake_llama_server.py")


def fake_binary(folder: Path) -> Path:
    """An executable named llama-server that runs the fake with this Python."""
    binary = folder / "llama-server"
    binary.write_text(f'#!/bin/sh\nexec {sys.executable} {FAKE} "$@"\n')
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    return binary


def serve_on_fake(tmp_path: Path, mode: str, backend: str = "auto") -> LiveServer:
    env = {
        "AIMAAS_ENGINE__LLAMA_SERVER_BINARY": str(fake_binary(tmp_path)),
        "AIMAAS_ENGINE__GGUF_BACKEND": backend,
        "FAKE_LLAMA_MODE": mode,
    }
    return start_server(tmp_path / "data", env=env)


def ask(server: LiveServer, *, stream: bool = False) -> str:
    client = server.openai()
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    if stream:
        chunks = client.chat.completions.create(
            model=CHAT, messages=messages, max_tokens=8, temperature=0, stream=True
        )
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    answer = client.chat.completions.create(
        model=CHAT, messages=messages, max_tokens=8, temperature=0
    )
    return answer.choices[0].message.content or ""


def fallbacks(server: LiveServer) -> dict[str, float]:
    """aimaas_engine_fallbacks_total by reason, for the chat model."""
    with server.http() as http:
        text = http.get("/metrics").text
    pattern = rf'aimaas_engine_fallbacks_total\{{model="{CHAT}",reason="(\w+)"\}} ([\d.]+)'
    return {reason: float(value) for reason, value in re.findall(pattern, text)}


@pytest.mark.parametrize("mode", ["start", "load"])
def test_a_binary_that_dies_starting_is_replaced_by_the_fallback(tmp_path: Path, mode: str) -> None:
    with serve_on_fake(tmp_path, mode) as server:
        assert ask(server)  # answered, not failed
        assert ask(server, stream=True)
        log = server.log()
        assert "SIGSEGV" in log
        assert "fake llama-server: about to crash" in log  # the child's last stderr lines
        assert "GGUF models run on xllamacpp for the rest of this process" in log
        reason = "check_failed" if mode == "start" else "died_starting"
        assert fallbacks(server) == {reason: 1.0}  # loaded once, on the fallback


def test_a_child_that_dies_serving_is_answered_again_on_the_fallback(tmp_path: Path) -> None:
    with serve_on_fake(tmp_path, "serve") as server:
        assert ask(server)  # the child died on it; the fallback answered it
        assert ask(server)
        log = server.log()
        assert "died while serving (SIGSEGV (signal 11))" in log
        assert "fake llama-server: about to crash" in log
        assert fallbacks(server) == {"died_serving": 1.0}
        children = [p for p in Path("/proc").glob("[0-9]*") if _parent(p) == server.process.pid]
        assert not [p for p in children if "fake_llama_server" in _cmdline(p)]


def test_required_llama_server_that_dies_is_a_503_naming_model_and_signal(
    tmp_path: Path,
) -> None:
    with serve_on_fake(tmp_path, "start", backend="llama-server") as server:
        with pytest.raises(openai.InternalServerError) as error:
            ask(server)
        assert error.value.status_code == 503
        message = str(error.value)
        assert CHAT in message and "SIGSEGV" in message
        assert fallbacks(server) == {}


def _parent(proc: Path) -> int | None:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def test_fake_is_executable_here(tmp_path: Path) -> None:
    """The stand-in really dies by SIGSEGV (so the tests above test what they say)."""
    import subprocess

    result = subprocess.run(
        [str(fake_binary(tmp_path)), "--host", str(tmp_path / "s")],
        env={**os.environ, "FAKE_LLAMA_MODE": "start"},
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == -11
    assert b"about to crash" in result.stderr

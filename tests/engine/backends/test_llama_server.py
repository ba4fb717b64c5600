"""llama_server.py without llama-server: the command line a model is started with, its
private folder and key, how a child that dies or never answers is reported and cleaned up
(a stand-in executable records what it was given, then ends), and the error body reader."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

import pytest

from aimaas.engine.backends.llama_server import LlamaServerModel, _error, _write_private
from aimaas.engine.backends.llamacpp import LlamaCppConfig
from aimaas.errors import EngineDied, Unavailable
from tests.engine.conftest import fake_binary, recorded

# Records its arguments, its key file and template, then writes to stderr and exits 3.
RECORD_AND_EXIT = """
folder = os.path.dirname(args[args.index('--host') + 1])
key = args[args.index('--api-key-file') + 1]
template = args[args.index('--chat-template-file') + 1] if '--chat-template-file' in args else None
record(
    args=args,
    folder_mode=os.stat(folder).st_mode & 0o777,
    key_mode=os.stat(key).st_mode & 0o777,
    key=open(key).read(),
    template=open(template).read() if template else None,
    pid=os.getpid(),
)
sys.stderr.write('loading the model\\nillegal instruction\\n')
sys.exit(3)
"""


def start(config: LlamaCppConfig, binary: Path, timeout: float = 30) -> LlamaServerModel:
    return asyncio.run(LlamaServerModel.start("tiny", config, binary=binary, timeout=timeout))


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def test_the_command_line_says_what_the_config_asks(tmp_path: Path, smollm2_gguf: Path) -> None:
    config = LlamaCppConfig(
        smollm2_gguf, context_length=256, parallel=3, threads=2, max_queue=0,
        prompt_cache_mb=64, chat_template="{{ messages }}",
    )  # fmt: skip
    with pytest.raises(EngineDied):
        start(config, fake_binary(tmp_path, RECORD_AND_EXIT))
    seen = recorded(tmp_path)
    args: list[str] = seen["args"]
    assert option(args, "--model") == str(smollm2_gguf)
    assert option(args, "--alias") == "tiny"
    assert option(args, "--parallel") == "3"
    assert option(args, "--ctx-size") == "768"  # every slot's context
    assert option(args, "--batch-size") == "512"  # at least 512
    assert option(args, "--threads") == option(args, "--threads-batch") == "2"
    assert option(args, "--cache-ram") == "64"
    assert {"--jinja", "--no-webui", "--swa-full"} <= set(args)
    socket = Path(option(args, "--host"))
    assert socket.name == "llama.sock" and socket.parent.name.startswith("aimaas-llama-")
    # The key and the template are in a folder only this user can read, removed afterwards.
    assert seen["folder_mode"] == 0o700 and seen["key_mode"] == 0o600
    assert seen["key"].endswith("\n") and len(seen["key"].strip()) >= 40
    assert seen["template"] == "{{ messages }}"
    assert not socket.parent.exists()


def test_a_long_context_batches_whole_and_no_template_means_the_files(
    tmp_path: Path, smollm2_gguf: Path
) -> None:
    config = LlamaCppConfig(smollm2_gguf, context_length=1024, parallel=1, threads=0, max_queue=0)
    with pytest.raises(EngineDied):
        start(config, fake_binary(tmp_path, RECORD_AND_EXIT))
    args: list[str] = recorded(tmp_path)["args"]
    assert option(args, "--batch-size") == option(args, "--ctx-size") == "1024"
    assert option(args, "--threads") == str(os.cpu_count())  # 0: every CPU
    assert "--chat-template-file" not in args and recorded(tmp_path)["template"] is None
    assert option(args, "--cache-ram") == "0"


@pytest.mark.parametrize(
    ("ending", "how"),
    [
        ("sys.exit(3)", "exit code 3"),
        ("os.kill(os.getpid(), signal.SIGKILL)", "SIGKILL (signal 9)"),
    ],
)
def test_a_child_that_dies_while_starting_says_how(
    tmp_path: Path, smollm2_gguf: Path, ending: str, how: str
) -> None:
    body = f"sys.stderr.write('first\\nlast words\\n'); sys.stderr.flush(); {ending}"
    config = LlamaCppConfig(smollm2_gguf, context_length=256, parallel=1, threads=1, max_queue=0)
    with pytest.raises(EngineDied) as died:
        start(config, fake_binary(tmp_path, body))
    assert died.value.message == f"llama-server for 'tiny' died while starting ({how})."
    assert died.value.how == how and died.value.stderr == "first | last words"
    assert died.value.code == "engine_died"


def test_a_child_that_never_answers_is_stopped_and_its_folder_removed(
    tmp_path: Path, smollm2_gguf: Path
) -> None:
    body = "record(args=args, pid=os.getpid()); time.sleep(600)"
    config = LlamaCppConfig(smollm2_gguf, context_length=256, parallel=1, threads=1, max_queue=0)
    with pytest.raises(Unavailable, match=r"^llama-server for 'tiny' did not start in 1s\.$"):
        start(config, fake_binary(tmp_path, body), timeout=1)
    seen = recorded(tmp_path)
    with pytest.raises(ProcessLookupError):  # terminated and reaped
        os.kill(seen["pid"], 0)
    assert not Path(option(seen["args"], "--host")).parent.exists()


def test_a_binary_that_cannot_run_leaves_no_folder(
    tmp_path: Path, smollm2_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    config = LlamaCppConfig(smollm2_gguf, context_length=256, parallel=1, threads=1, max_queue=0)
    with pytest.raises(FileNotFoundError):
        start(config, tmp_path / "missing-binary")
    assert list((tmp_path / "tmp").iterdir()) == []


def test_private_files_are_new_and_only_ours(tmp_path: Path) -> None:
    path = _write_private(tmp_path, "key", "secret\n")
    assert path.read_text() == "secret\n" and path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(FileExistsError):  # never written through an existing file or link
        _write_private(tmp_path, "key", "other\n")


def test_an_error_body_is_its_error_object_or_its_text() -> None:
    error = b'{"error": {"code": 400, "message": "bad grammar", "type": "invalid_request_error"}}'
    assert _error(error, 400) == {
        "code": 400, "message": "bad grammar", "type": "invalid_request_error"
    }  # fmt: skip
    assert _error(b"Service Unavailable", 503) == {"code": 503, "message": "Service Unavailable"}
    assert _error(b'{"error": "just text"}', 500) == {
        "code": 500,
        "message": '{"error": "just text"}',
    }
    assert _error(b"[1, 2]", 500)["message"] == "[1, 2]"
    assert _error(b"\xff" + b"x" * 400, 502)["message"] == "\ufffd" + "x" * 299

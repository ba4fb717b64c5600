"""``aimaas security seal-existing`` killed with SIGKILL midway, twice, then run again: at
each moment every artifact reads whole through the sealed store, and the last run leaves no
artifact's bytes in the clear anywhere in the data directory.

The kills are placed by what is on disk, not by time: the first as soon as the first
sealed object exists, the second once 60 more have appeared."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from aimaas.crypto import MasterKey, new_key_text
from aimaas.registry.store import SealedStore
from aimaas.registry.store.sealing import census
from tests.registry.store.filled import Filled, fill_without_key, occurrences

pytestmark = pytest.mark.e2e

UPLOADS = 300
DEADLINE_S = 120


def sealed_count(root: Path) -> int:
    return sum(1 for p in (root / "sealed").glob("*/*") if p.is_file())


def start(data_dir: Path, key_file: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "AIMAAS_SECURITY__MASTER_KEY_FILE": str(key_file)}
    command = [sys.executable, "-m", "aimaas", "security", "seal-existing",
               "--data-dir", str(data_dir)]  # fmt: skip
    with log.open("ab") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def kill_when(process: subprocess.Popen[bytes], ready: Callable[[], bool]) -> bool:
    """SIGKILL ``process`` as soon as ``ready()``; False if it ended first."""
    deadline = time.monotonic() + DEADLINE_S
    while not ready():
        if process.poll() is not None:
            return False
        assert time.monotonic() < deadline, "seal-existing made no progress"
        time.sleep(0.001)  # polling the disk, not waiting for an outcome
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    return True


def assert_all_readable(filled: Filled, key: MasterKey) -> int:
    """Every artifact whole through the sealed store; answers how many are still plaintext."""
    db = filled.database()
    try:
        root = filled.settings.storage.artifacts_dir
        store = SealedStore(root, db=db, master_key=key)
        for item in filled.stored:
            assert store.read(item.digest, item.owner) == item.data, item.owner.label
        return census(root, db, key.id).plaintext.count
    finally:
        db.dispose()


def test_kill_9_during_seal_existing_then_run_again(tmp_path: Path) -> None:
    data = tmp_path / "data"
    filled = fill_without_key(data, uploads=UPLOADS, sizes=(2_000, 40_000))
    artifacts = len(filled.stored)
    root = filled.settings.storage.artifacts_dir
    key_file = tmp_path / "master.key"
    key_file.write_text(new_key_text() + "\n")
    key = MasterKey.from_file(key_file)
    log = tmp_path / "seal.log"

    first = start(data, key_file, log)
    assert kill_when(first, lambda: sealed_count(root) > 0), log.read_text()
    left = assert_all_readable(filled, key)
    assert 0 < left <= artifacts  # killed midway (maybe before its first row committed)

    done = sealed_count(root)
    second = start(data, key_file, log)
    killed = kill_when(second, lambda: sealed_count(root) >= done + 60)
    assert killed, log.read_text()
    assert assert_all_readable(filled, key) < left  # the second run went further

    last = subprocess.run(
        [sys.executable, "-m", "aimaas", "security", "seal-existing", "--data-dir", str(data)],
        env={**os.environ, "AIMAAS_SECURITY__MASTER_KEY_FILE": str(key_file)},
        capture_output=True, text=True, timeout=DEADLINE_S,
    )  # fmt: skip
    assert last.returncode == 0, last.stdout + last.stderr
    assert "were sealed already" in " ".join(last.stdout.split())
    assert assert_all_readable(filled, key) == 0
    assert occurrences(data, filled.needles()) == {}  # no artifact's bytes in the clear
    plain = [p for p in (root / "sha256").rglob("*") if p.is_file()]
    assert [p.read_bytes() for p in plain] == [filled.unreferenced]  # named by no row

"""Checkpoints of a running job under encryption at rest: sealed on disk (no weight bytes
in the clear), bound to their job, and a sealed run still resumes bit for bit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from aimaas.crypto import MasterKey
from aimaas.learn import trainer
from aimaas.learn.checkpoint import STATE, load_checkpoint
from aimaas.security.sealed_files import SealedFiles
from tests.learn import never, no_events, one_thread, same_tensors
from tests.learn.test_checkpoint import CASES, StopAt


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


def _train(directory: Path | None, codec: SealedFiles | None, should_stop=never):  # type: ignore[no-untyped-def]
    dataset, params = CASES["mlp"]
    extra = {} if codec is None else {"checkpoint_codec": codec}
    return trainer.train(
        "mlp", dataset, None, params, seed=7, checkpoint_dir=directory,
        on_event=no_events, should_stop=should_stop, **extra,
    )  # fmt: skip


def test_sealed_checkpoints_hide_the_weights_and_resume_exactly(tmp_path: Path) -> None:
    master = MasterKey.generate()
    folder = tmp_path / "checkpoint"
    codec = SealedFiles(master, folder, owner="tenant/job/job-1")
    with pytest.raises(trainer.TrainingStopped):
        _train(folder, codec, should_stop=StopAt(60))
    assert (folder / STATE).exists()
    on_disk = b"".join(p.read_bytes() for p in folder.iterdir())
    assert b'"fingerprint"' not in on_disk  # the JSON state is sealed too
    state = json.loads(codec.unseal((folder / STATE).read_bytes(), STATE))
    saved = load_checkpoint(folder, state["fingerprint"], codec)
    assert saved is not None
    rows = [t.detach().contiguous().view(-1)[:8].numpy().tobytes() for t in saved.model.values()]
    canaries = [row for row in rows if len(row) >= 16]
    assert canaries and not any(row in on_disk for row in canaries)
    resumed = _train(folder, SealedFiles(master, folder, owner="tenant/job/job-1"))
    assert same_tensors(resumed, _train(None, None))

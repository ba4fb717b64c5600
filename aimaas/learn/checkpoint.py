"""Training checkpoints: everything a run needs to continue exactly where an epoch ended.

One checkpoint is two files in the run's directory:

- ``epoch-NNNNNN.safetensors``: the model, the best weights so far, the optimizer's
  tensors and torch's global RNG state (dropout draws from it);
- ``checkpoint.json``: counters, the optimizer's scalars, the run's fingerprint, and the
  name of the tensors file.

Each file is written to a temporary name in the same directory, flushed, fsynced and
renamed over the old one, then the directory is fsynced; the JSON goes last, so it never
names a tensors file that is not complete. Nothing is pickled and nothing is unpickled.
With encryption at rest, a ``FileCodec`` seals both files before they reach the disk.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from safetensors.torch import load, save
from torch import Tensor

STATE = "checkpoint.json"
FORMAT = 1


class FileCodec(Protocol):
    """How checkpoint bytes look on disk: ``seal`` before writing, ``unseal`` after reading."""

    def seal(self, data: bytes, name: str) -> bytes: ...

    def unseal(self, data: bytes, name: str) -> bytes: ...


class PlainFiles:
    def seal(self, data: bytes, name: str) -> bytes:
        return data

    def unseal(self, data: bytes, name: str) -> bytes:
        return data


PLAIN = PlainFiles()


@dataclass
class Progress:
    epoch: int = 0  # epochs completed
    step: int = 0  # optimizer steps taken
    best_loss: float | None = None  # lowest monitored loss so far
    best_epoch: int = 0
    bad_epochs: int = 0  # epochs since best_loss last improved
    stopped_early: bool = False
    train_loss: float | None = None  # the last epoch's
    best_train_loss: float | None = None
    elapsed_s: float = 0.0


@dataclass
class Checkpoint:
    progress: Progress
    model: dict[str, Tensor]
    best: dict[str, Tensor] | None  # weights at best_epoch, kept for early stopping
    optimizer: dict[str, Any]  # torch's optimizer.state_dict()
    rng: Tensor  # torch.get_rng_state()


def save_checkpoint(
    directory: Path, checkpoint: Checkpoint, fingerprint: str, codec: FileCodec = PLAIN
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v for k, v in checkpoint.model.items()}
    if checkpoint.best is not None:
        tensors |= {f"best.{k}": v for k, v in checkpoint.best.items()}
    scalars: dict[str, dict[str, Any]] = {}
    for index, state in checkpoint.optimizer["state"].items():
        for key, value in state.items():
            if isinstance(value, Tensor):
                tensors[f"optimizer.{index}.{key}"] = value
            else:
                scalars.setdefault(str(index), {})[key] = value
    tensors["rng"] = checkpoint.rng
    tensors = {k: v.detach().clone().contiguous() for k, v in tensors.items()}  # no sharing
    name = f"epoch-{checkpoint.progress.epoch:06d}.safetensors"
    _write_atomic(directory / name, codec.seal(save(tensors), name))
    state = {
        "format": FORMAT,
        "fingerprint": fingerprint,
        "tensors": name,
        "progress": asdict(checkpoint.progress),
        "optimizer_scalars": scalars,
        "has_best": checkpoint.best is not None,
    }
    _write_atomic(directory / STATE, codec.seal(json.dumps(state, indent=1).encode(), STATE))
    for old in directory.glob("epoch-*.safetensors"):
        if old.name != name:
            old.unlink(missing_ok=True)


def load_checkpoint(
    directory: Path, fingerprint: str, codec: FileCodec = PLAIN
) -> Checkpoint | None:
    """The directory's checkpoint, or None when there is none yet. ValueError when it
    belongs to another run (other data, hyperparameters, seed or algorithm)."""
    path = directory / STATE
    if not path.exists():
        return None
    state = json.loads(codec.unseal(path.read_bytes(), STATE))
    if state.get("format") != FORMAT or state.get("fingerprint") != fingerprint:
        raise ValueError(
            f"The checkpoint in {directory} is from a different training run; "
            "use an empty directory for a new run."
        )
    name = str(state["tensors"])
    tensors = load(codec.unseal((directory / name).read_bytes(), name))
    model = {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}
    best = {k.removeprefix("best."): v for k, v in tensors.items() if k.startswith("best.")}
    optimizer_state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            optimizer_state.setdefault(int(index), {})[name] = value
    for index, values in state["optimizer_scalars"].items():
        optimizer_state.setdefault(int(index), {}).update(values)
    return Checkpoint(
        progress=Progress(**state["progress"]),
        model=model,
        best=best if state["has_best"] else None,
        optimizer={"state": optimizer_state},
        rng=tensors["rng"],
    )


def _write_atomic(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)

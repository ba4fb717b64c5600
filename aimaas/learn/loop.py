"""The training loop every gradient-trained model shares: minibatches in a seeded order,
validation and early stopping each epoch, a checkpoint at the end of each epoch, and a
resume from the last one that replays the remaining epochs exactly.

Determinism: the data order and word2vec's negative samples come from a generator seeded
by (seed, epoch) alone, and dropout draws from torch's global RNG, whose state is saved in
each checkpoint. So a run stopped in the middle of epoch e and resumed from the
checkpoint at the end of epoch e - 1 replays epoch e exactly as an uninterrupted run does.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel

from aimaas.errors import InvalidInput
from aimaas.learn import hyperparameters as hp
from aimaas.learn.checkpoint import (
    PLAIN,
    Checkpoint,
    FileCodec,
    Progress,
    load_checkpoint,
    save_checkpoint,
)
from aimaas.learn.examples import Examples
from aimaas.learn.objectives import evaluate, objective
from aimaas.learn.specs import ModelDescription

EventSink = Callable[[dict[str, Any]], None]
STEP_EVENTS = 10  # at most this many "step" events per epoch


class Loop:
    """Minibatch training of one network, epoch by epoch."""

    def __init__(
        self,
        network: torch.nn.Module,
        spec: ModelDescription,
        params: hp.Training,
        examples: Examples,
        validation: Examples | None,
        *,
        seed: int,
        on_event: EventSink,
        check_stop: Callable[[], None],
    ) -> None:
        self.network, self.spec, self.params = network, spec, params
        self.examples, self.validation = examples, validation
        self.seed, self.on_event, self.check_stop = seed, on_event, check_stop
        self.epochs, self.batch_size, self.patience = (
            params.epochs,
            params.batch_size,
            params.patience,
        )
        self.max_grad_norm: float = getattr(params, "max_grad_norm", 0.0)
        self.k: int = getattr(params, "negatives", 0)
        self.optimizer = torch.optim.AdamW(
            network.parameters(),
            lr=params.learning_rate,
            weight_decay=getattr(params, "weight_decay", 0.0),
        )
        self.penalty = _penalty(spec.algorithm, params, len(examples))
        self.best: dict[str, torch.Tensor] | None = None

    def run(self, directory: Path | None, run_id: str, codec: FileCodec = PLAIN) -> Progress:
        progress = Progress()
        saved = None if directory is None else load_checkpoint(directory, run_id, codec)
        if saved is not None:
            progress = self._restore(saved)
            self.on_event({"type": "resumed", "epoch": progress.epoch})
        session = time.monotonic()
        already = progress.elapsed_s
        while progress.epoch < self.epochs and not progress.stopped_early:
            epoch = progress.epoch
            train_loss = self._epoch(epoch, progress)
            found = self._validate()
            monitored = found.get("loss", train_loss)
            progress.epoch, progress.train_loss = epoch + 1, train_loss
            if progress.best_loss is None or monitored < progress.best_loss:
                progress.best_loss, progress.best_epoch, progress.bad_epochs = (
                    monitored,
                    epoch + 1,
                    0,
                )
                progress.best_train_loss = train_loss
                if self.patience is not None:
                    self.best = {
                        k: v.detach().clone() for k, v in self.network.state_dict().items()
                    }
            else:
                progress.bad_epochs += 1
            progress.stopped_early = (
                self.patience is not None and progress.bad_epochs >= self.patience
            )
            progress.elapsed_s = already + (time.monotonic() - session)
            if directory is not None:
                save_checkpoint(directory, self._checkpoint(progress), run_id, codec)
            self.on_event(
                {
                    "type": "epoch",
                    "epoch": epoch + 1,
                    "epochs": self.epochs,
                    "step": progress.step,
                    "loss": train_loss,
                    **{f"val_{k}": v for k, v in found.items()},
                    "elapsed_s": progress.elapsed_s,
                }
            )
            if progress.stopped_early:
                self.on_event(
                    {"type": "early_stop", "epoch": epoch + 1, "best_epoch": progress.best_epoch}
                )
        if progress.stopped_early and self.best is not None:
            self.network.load_state_dict(self.best)
        return progress

    def _epoch(self, epoch: int, progress: Progress) -> float:
        generator = torch.Generator().manual_seed(_epoch_seed(self.seed, epoch))
        n = len(self.examples)
        order = torch.randperm(n, generator=generator)
        steps = math.ceil(n / self.batch_size)
        report_every = math.ceil(steps / STEP_EVENTS)
        self.network.train()
        total = 0.0
        for index, start in enumerate(range(0, n, self.batch_size)):
            self.check_stop()
            batch = self.examples.batch(order[start : start + self.batch_size])
            loss = objective(
                self.network, batch, self.spec.task, generator, noise=self.examples.noise, k=self.k
            )
            if self.penalty:
                loss = loss + self.penalty * self.network.penalized().pow(2).sum()  # type: ignore[operator]
            value = float(loss.detach())
            if not math.isfinite(value):
                raise InvalidInput(
                    f"Training diverged in epoch {epoch + 1} (the loss is {value}); "
                    "lower learning_rate.",
                    param="hyperparameters.learning_rate",
                )
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            if self.max_grad_norm:
                torch.nn.utils.clip_grad_norm_(self.network.parameters(), self.max_grad_norm)
            self.optimizer.step()
            progress.step += 1
            total += value * len(batch.inputs)
            if (index + 1) % report_every == 0:
                self.on_event(
                    {"type": "step", "epoch": epoch + 1, "step": progress.step, "loss": value}
                )
        return total / n

    def _validate(self) -> dict[str, float]:
        if self.validation is None:
            return {}
        return evaluate(
            self.network,
            self.validation,
            self.spec,
            seed=self.seed,
            noise=self.examples.noise,
            k=self.k or 5,
        )

    def _checkpoint(self, progress: Progress) -> Checkpoint:
        return Checkpoint(
            progress=progress,
            model=self.network.state_dict(),
            best=self.best,
            optimizer=self.optimizer.state_dict(),
            rng=torch.get_rng_state(),
        )

    def _restore(self, saved: Checkpoint) -> Progress:
        self.network.load_state_dict(saved.model)
        self.best = saved.best
        state = {
            "state": saved.optimizer["state"],
            "param_groups": self.optimizer.state_dict()["param_groups"],
        }
        self.optimizer.load_state_dict(state)
        torch.set_rng_state(saved.rng)
        return saved.progress


def _penalty(algorithm: str, params: BaseModel, rows: int) -> float:
    """L2 strength per squared weight, relative to a mean loss over ``rows``: ridge's
    l2·‖w‖² and logistic regression's ½‖W‖²/C, as the closed-form solvers use them."""
    l2: float = getattr(params, "l2", 0.0)
    if algorithm == "logistic_regression":
        return l2 / (2 * rows)
    return l2 / rows if algorithm == "linear_regression" else 0.0


def _epoch_seed(seed: int, epoch: int) -> int:
    """A generator seed that depends on (seed, epoch) only."""
    s = seed % (1 << 64)
    state = np.random.SeedSequence([s & 0xFFFFFFFF, s >> 32, epoch]).generate_state(1, np.uint64)
    return int(state[0] >> 1)

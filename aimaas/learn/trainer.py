"""Training: one loop for every gradient-trained model, with progress events, cancellation,
early stopping and checkpoints that resume bit for bit.

Determinism: the data order and word2vec's negative samples come from a generator seeded
by (seed, epoch) alone, and dropout draws from torch's global RNG, whose state is saved in
each checkpoint (and kept away from the caller's by ``fork_rng``). So a run stopped in
the middle of epoch e and resumed from the checkpoint at the end of epoch e - 1 replays
epoch e exactly as an uninterrupted run does, and ends with identical weights.
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
from aimaas.learn import algorithms, architectures, encoding, solvers
from aimaas.learn import hyperparameters as hp
from aimaas.learn.checkpoint import Checkpoint, Progress, load_checkpoint, save_checkpoint
from aimaas.learn.dataset import Dataset
from aimaas.learn.evaluation import evaluate, fingerprint, objective
from aimaas.learn.examples import Examples
from aimaas.learn.models.linear import LinearRegression
from aimaas.learn.models.logistic import LogisticRegression
from aimaas.learn.servable import Task, TrainedModel
from aimaas.learn.specs import ModelSpec

EventSink = Callable[[dict[str, Any]], None]
STEP_EVENTS = 10  # at most this many "step" events per epoch


class Cancelled(Exception):
    """``should_stop()`` returned True; the last end-of-epoch checkpoint remains."""


def train(
    algorithm: str,
    train: Dataset,
    validation: Dataset | None,
    hyperparameters: dict[str, Any],
    *,
    seed: int,
    checkpoint_dir: Path | None,
    on_event: EventSink,
    should_stop: Callable[[], bool],
) -> TrainedModel:
    """Train ``algorithm`` on ``train``; InvalidInput for bad data or hyperparameters,
    Cancelled when ``should_stop()`` turns True (checked before every step)."""
    params = hp.parse(algorithm, hyperparameters)
    algorithms.check_dataset(algorithm, train)
    if validation is not None:
        algorithms.check_dataset(algorithm, validation, param="validation_file")
    task = algorithms.resolve_task(algorithm, params, train.targets)
    coding = encoding.fit(
        train,
        layout=algorithms.layout(algorithm, train.kind),
        task=task,
        max_vocab=getattr(params, "max_vocab", 0),
        min_count=getattr(params, "min_count", 1),
        max_length=getattr(params, "max_length", 1),
    )
    window = getattr(params, "window", 0)
    examples = coding.examples(train, task, param="training_file", window=window)
    held_out = None
    if validation is not None:
        held_out = coding.examples(validation, task, param="validation_file", window=window)
    if len(examples) == 0:
        raise InvalidInput(
            "No text has two known words within the window; add longer texts or lower min_count.",
            param="training_file",
        )
    config = architectures.network_config(algorithm, params, coding, task, examples)
    spec = ModelSpec(algorithm, task, config, coding, architectures.output_size(config, task))

    def check_stop() -> None:
        if should_stop():
            raise Cancelled(f"{algorithm} training was stopped")

    started = time.monotonic()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        network = architectures.build(algorithm, config)
        if (
            isinstance(network, LinearRegression)
            and getattr(params, "solver", "") == "normal_equation"
        ):
            check_stop()
            loss = solvers.fit_normal_equation(network, examples, getattr(params, "l2", 0.0))
            progress = Progress(epoch=1, train_loss=loss, best_train_loss=loss)
            _report_closed_form(on_event, 1, 1, loss, started)
        elif isinstance(params, hp.LogisticRegressionHyperparameters) and params.solver == "lbfgs":
            assert isinstance(network, LogisticRegression)
            loss = solvers.fit_lbfgs(
                network,
                examples,
                l2=params.l2,
                max_iter=params.max_iter,
                check_stop=check_stop,
                report=lambda done, rounds, value: _report_closed_form(
                    on_event, done, rounds, value, started
                ),
            )
            progress = Progress(epoch=1, train_loss=loss, best_train_loss=loss)
        else:
            assert isinstance(params, hp.Training)
            loop = Loop(
                network,
                spec,
                params,
                examples,
                held_out,
                seed=seed,
                on_event=on_event,
                check_stop=check_stop,
            )
            run_id = fingerprint(algorithm, params, seed, train, validation)
            progress = loop.run(checkpoint_dir, run_id)
    metrics: dict[str, float] = {
        "train_loss": (progress.best_train_loss if progress.stopped_early else progress.train_loss)
        or 0.0,
        "epochs": float(progress.epoch),
    }
    if held_out is not None:
        found = evaluate(
            network,
            held_out,
            spec,
            seed=seed,
            noise=examples.noise,
            k=getattr(params, "negatives", 5),
        )
        metrics |= {f"val_{k}": v for k, v in found.items()}
    metrics["elapsed_s"] = max(progress.elapsed_s, time.monotonic() - started)
    weights = {k: v.detach().clone().contiguous() for k, v in network.state_dict().items()}
    training = {
        "seed": seed,
        "rows": len(train),
        "validation_rows": 0 if validation is None else len(validation),
        "epochs": progress.epoch,
        "best_epoch": progress.best_epoch or progress.epoch,
        "hyperparameters": params.model_dump(mode="json"),
    }
    return TrainedModel(weights=weights, spec=spec.to_json(training=training), metrics=metrics)


def _report_closed_form(
    on_event: EventSink, done: int, rounds: int, loss: float, started: float
) -> None:
    on_event(
        {
            "type": "epoch",
            "epoch": done,
            "epochs": rounds,
            "step": done,
            "loss": loss,
            "elapsed_s": time.monotonic() - started,
        }
    )


class Loop:
    """Minibatch training of one network, epoch by epoch."""

    def __init__(
        self,
        network: torch.nn.Module,
        spec: ModelSpec,
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

    def run(self, directory: Path | None, run_id: str) -> Progress:
        progress = Progress()
        saved = None if directory is None else load_checkpoint(directory, run_id)
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
                save_checkpoint(directory, self._checkpoint(progress), run_id)
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
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            if self.max_grad_norm:
                torch.nn.utils.clip_grad_norm_(self.network.parameters(), self.max_grad_norm)
            self.optimizer.step()
            progress.step += 1
            value = float(loss.detach())
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


__all__ = ["Cancelled", "Task", "train"]

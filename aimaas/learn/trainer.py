"""Training: ``train`` turns a dataset and hyperparameters into a ``TrainedModel``.

It checks the data and hyperparameters, fits the preprocessing on the training set,
builds the network from one seed, and trains it: least squares in closed form, logistic
regression by L-BFGS, everything else in the one minibatch loop (``loop.py``), which
sends progress events, stops early, checkpoints each epoch and resumes bit for bit.
Torch's global RNG is seeded inside ``fork_rng``, so the caller's stays untouched.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel

from aimaas.errors import InvalidInput
from aimaas.jobs.context import Cancelled
from aimaas.learn import algorithms, architectures, encoding, solvers
from aimaas.learn import hyperparameters as hp
from aimaas.learn.checkpoint import PLAIN, FileCodec, Progress
from aimaas.learn.examples import Examples
from aimaas.learn.loop import EventSink, Loop
from aimaas.learn.models.linear import LinearRegression
from aimaas.learn.models.logistic import LogisticRegression
from aimaas.learn.objectives import evaluate, fingerprint
from aimaas.learn.servable import TrainedModel
from aimaas.learn.specs import ModelDescription
from aimaas.uploads.dataset import Dataset


class TrainingStopped(Cancelled):
    """``should_stop()`` returned True; the last end-of-epoch checkpoint remains."""


def train(
    algorithm: str,
    train: Dataset,
    validation: Dataset | None,
    hyperparameters: BaseModel | dict[str, Any],  # parsed (a job's spec), or a raw object
    *,
    seed: int,
    checkpoint_dir: Path | None,
    checkpoint_codec: FileCodec = PLAIN,
    on_event: EventSink,
    should_stop: Callable[[], bool],
) -> TrainedModel:
    """Train ``algorithm`` on ``train``; InvalidInput for bad data or hyperparameters,
    TrainingStopped when ``should_stop()`` turns True (checked before every step)."""
    params = (
        hyperparameters
        if isinstance(hyperparameters, BaseModel)
        else hp.parse(algorithm, hyperparameters)
    )
    spec, examples, held_out = _prepare(algorithm, params, train, validation)

    def check_stop() -> None:
        if should_stop():
            raise TrainingStopped(f"{algorithm} training was stopped")

    def validate() -> dict[str, float]:
        if held_out is None:
            return {}
        negatives = getattr(params, "negatives", 5)
        found = evaluate(network, held_out, spec, seed=seed, noise=examples.noise, k=negatives)
        return {f"val_{name}": value for name, value in found.items()}

    def report(done: int, rounds: int, loss: float) -> None:
        on_event(
            {
                "type": "epoch",
                "epoch": done,
                "epochs": rounds,
                "step": done,
                "loss": loss,
                **validate(),
                "elapsed_s": time.monotonic() - started,
            }
        )

    started = time.monotonic()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        network = architectures.build(algorithm, spec.config)
        if isinstance(params, hp.LinearRegressionHyperparameters) and (
            params.solver == "normal_equation"
        ):
            check_stop()
            assert isinstance(network, LinearRegression)
            loss = solvers.fit_normal_equation(network, examples, params.l2)
            report(1, 1, loss)
            progress = Progress(epoch=1, train_loss=loss)
        elif isinstance(params, hp.LogisticRegressionHyperparameters) and params.solver == "lbfgs":
            assert isinstance(network, LogisticRegression)
            loss = solvers.fit_lbfgs(
                network,
                examples,
                l2=params.l2,
                max_iter=params.max_iter,
                check_stop=check_stop,
                report=report,
            )
            progress = Progress(epoch=1, train_loss=loss)
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
            progress = loop.run(
                checkpoint_dir,
                fingerprint(algorithm, params, seed, train, validation),
                checkpoint_codec,
            )
        metrics = {
            "train_loss": (
                progress.best_train_loss if progress.stopped_early else progress.train_loss
            )
            or 0.0,
            "epochs": float(progress.epoch),
            **validate(),
        }
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


def _prepare(
    algorithm: str, params: BaseModel, train: Dataset, validation: Dataset | None
) -> tuple[ModelDescription, Examples, Examples | None]:
    """Check the data, fit the preprocessing on ``train`` and encode both sets."""
    algorithms.check_dataset(algorithm, train)
    if validation is not None:
        algorithms.check_dataset(algorithm, validation, param="validation_file", validation=True)
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
    size = architectures.output_size(config)
    return ModelDescription(algorithm, task, config, coding, size), examples, held_out

"""A short fine-tune after pruning: the training loop every network shares
(``aimaas.learn.loop``), on the parent's training data with its hyperparameters, for a
few epochs, seeded, without checkpoints. Pruning masks stay attached while it runs, so
pruned weights stay zero."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from aimaas.learn import hyperparameters as hp
from aimaas.learn.inputs import TrainingData
from aimaas.learn.loop import EventSink, Loop
from aimaas.learn.specs import ModelDescription


def fine_tune(
    network: nn.Module,
    spec: ModelDescription,
    hyperparameters: dict[str, Any],
    data: TrainingData,
    *,
    epochs: int,
    seed: int,
    on_event: EventSink,
    check_stop: Callable[[], None],
) -> dict[str, float]:
    """Train ``network`` (in place) ``epochs`` more epochs; the last epoch's metrics."""
    params = hp.parse(spec.algorithm, hyperparameters)
    if not isinstance(params, hp.Training):
        raise ValueError(f"{spec.algorithm} cannot be fine-tuned")
    params = params.model_copy(update={"epochs": epochs, "patience": None})
    examples = spec.encoding.examples(data.train, spec.task, param="training_file")
    held_out = None
    if data.validation is not None:
        held_out = spec.encoding.examples(data.validation, spec.task, param="validation_file")
    last: dict[str, float] = {}

    def sink(event: dict[str, Any]) -> None:
        if event.get("type") == "epoch":
            last.clear()
            last.update({k: v for k, v in event.items() if isinstance(v, float)})
        on_event({**event, "phase": "fine_tune"})

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        loop = Loop(
            network,
            spec,
            params,
            examples,
            held_out,
            seed=seed,
            on_event=sink,
            check_stop=check_stop,
        )
        loop.run(None, "fine-tune")
    network.eval()
    return last

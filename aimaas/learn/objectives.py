"""What the training loop minimises and how it scores held-out data.

Classifiers minimise cross-entropy and report accuracy; regressors minimise the mean
squared error of standardized targets and report R² and MSE in the targets' own units
(scikit-learn's metrics); word2vec minimises the negative-sampling loss.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel
from sklearn.metrics import (  # type: ignore[import-untyped]
    accuracy_score,
    mean_squared_error,
    r2_score,
)
from torch import Tensor, nn

from aimaas.learn.examples import Batch, Examples
from aimaas.learn.servable import Task
from aimaas.learn.specs import ModelDescription
from aimaas.uploads.dataset import Dataset

EVAL_BATCH = 1024


def objective(
    network: nn.Module,
    batch: Batch,
    task: Task,
    generator: torch.Generator,
    *,
    noise: Tensor | None = None,
    k: int = 0,
) -> Tensor:
    """The mean training loss of one batch; word2vec draws ``k`` negatives per pair from
    ``noise``."""
    if task == "embedding":
        assert noise is not None
        pairs = batch.inputs  # (B, 2) center, context
        negatives = torch.multinomial(
            noise, pairs.shape[0] * k, replacement=True, generator=generator
        )
        loss: Tensor = network.loss(pairs[:, 0], pairs[:, 1], negatives.view(-1, k))  # type: ignore[operator]
        return loss
    assert batch.targets is not None
    out: Tensor = network(batch.inputs, batch.lengths)  # (B, K) or (B, 1)
    if task == "classification":
        return F.cross_entropy(out, batch.targets)
    return F.mse_loss(out[:, 0], batch.targets)


def evaluate(
    network: nn.Module,
    examples: Examples,
    spec: ModelDescription,
    *,
    seed: int,
    noise: Tensor | None = None,
    k: int = 5,
) -> dict[str, float]:
    """Loss and metrics of ``network`` (switched to eval mode) on ``examples``."""
    network.eval()
    generator = torch.Generator().manual_seed(seed)  # word2vec's negatives, the same every time
    losses: list[Tensor] = []
    outputs: list[Tensor] = []
    n = len(examples)
    with torch.inference_mode():
        for start in range(0, n, EVAL_BATCH):
            batch = examples.batch(torch.arange(start, min(n, start + EVAL_BATCH)))
            if spec.task == "embedding":
                loss = objective(network, batch, spec.task, generator, noise=noise, k=k)
                losses.append(loss * len(batch.inputs))
                continue
            out = network(batch.inputs, batch.lengths)
            outputs.append(out)
    if spec.task == "embedding":
        return {"loss": float(torch.stack(losses).sum()) / max(n, 1)}
    out = torch.cat(outputs)
    assert examples.targets is not None
    targets = examples.targets
    if spec.task == "classification":
        return {
            "loss": float(F.cross_entropy(out, targets)),
            "accuracy": float(accuracy_score(targets.numpy(), out.argmax(dim=1).numpy())),
        }
    assert spec.encoding.target is not None
    truth = spec.encoding.target.restore(targets.numpy())
    predicted = spec.encoding.target.restore(out[:, 0].numpy())
    return {
        "loss": float(F.mse_loss(out[:, 0], targets)),
        "r2": float(r2_score(truth, predicted)),
        "mse": float(mean_squared_error(truth, predicted)),
    }


def fingerprint(
    algorithm: str, params: BaseModel, seed: int, train: Dataset, validation: Dataset | None
) -> str:
    """A digest of everything that decides a run, so a checkpoint resumes only its own."""
    digest = hashlib.sha256()
    header = {"algorithm": algorithm, "params": params.model_dump(mode="json"), "seed": seed}
    digest.update(json.dumps(header, sort_keys=True).encode())
    for dataset in (train, validation):
        if dataset is None:
            digest.update(b"none")
            continue
        digest.update(dataset.kind.encode())
        if dataset.features is not None:
            digest.update(str((dataset.features.dtype, dataset.features.shape)).encode())
            digest.update(np.ascontiguousarray(dataset.features).tobytes())
        if dataset.texts is not None:
            digest.update(json.dumps(dataset.texts).encode())
        if dataset.targets is not None:
            digest.update(json.dumps(_plain(dataset.targets)).encode())
    return digest.hexdigest()


def _plain(targets: np.ndarray) -> list[Any]:
    return [
        v if isinstance(v, int | float | str | bool | None) else str(v) for v in targets.tolist()
    ]

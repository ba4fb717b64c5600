"""Parent against child, measured on this machine: what the optimization cost and bought.

For each side, from the very bytes the registry serves:

- ``size_bytes``: the artifact's files in the store (weights + ``model.json``), each
  file's size under ``files``;
- ``latency_ms_p50``: the median wall time of one ``Predictor.run`` (the forward pass and
  the outputs, on already-prepared rows) at batch 1 and batch 32, on a fixed number of
  torch / onnxruntime threads, after a warm-up. Parent and child are timed in
  alternating rounds, so a busy neighbour slows both alike and the ratio stays honest;
- ``metrics``: the evaluation metrics (``aimaas.evaluate``: scikit-learn's) of its
  predictions on the evaluation rows.

``ratios`` divide child by parent (``throughput_batch_32`` the other way round);
``delta`` is child minus parent for each metric.
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from aimaas.evaluate.dataset_predictions import model_inputs
from aimaas.evaluate.metrics import evaluate_predictor
from aimaas.learn import artifacts
from aimaas.learn.servable import Predictor
from aimaas.process import torch_threads
from aimaas.registry.formats import weights_file
from aimaas.uploads.dataset import Dataset

BATCHES = (1, 32)
WARMUP_RUNS = 5
ROUNDS = 10  # alternating rounds of parent and child runs
MIN_SECONDS = 0.3  # per side and batch size, at least this much timed work
MIN_RUNS = 30
MAX_RUNS = 5_000


@dataclass(frozen=True)
class Side:
    """One version as the comparison sees it."""

    label: dict[str, Any]  # model, version, format
    files: dict[str, bytes]  # file name -> bytes as stored

    @property
    def weights(self) -> bytes:
        return self.files[weights_file(dict.fromkeys(self.files, ""))]


def compare(
    parent: Side,
    child: Side,
    dataset: Dataset,
    *,
    threads: int = 1,
    min_seconds: float = MIN_SECONDS,
) -> dict[str, Any]:
    """The comparison object stored with the child version."""
    with torch_threads(threads):  # onnxruntime sessions take torch's count when loaded
        predictors = [
            artifacts.load_predictor(side.weights, side.files["model.json"])
            for side in (parent, child)
        ]
        latencies = {
            f"batch_{size}": alternating_p50(predictors, batch_items(predictors, dataset, size),
                                             min_seconds=min_seconds)
            for size in BATCHES
        }  # fmt: skip
        evaluations = [evaluate_predictor(predictor, dataset) for predictor in predictors]
    sides: list[dict[str, Any]] = []
    for i, side in enumerate((parent, child)):
        sizes = {name: len(data) for name, data in side.files.items()}
        sides.append(
            {
                **side.label,
                "size_bytes": sum(sizes.values()),
                "files": sizes,
                "latency_ms_p50": {batch: timing[i][0] for batch, timing in latencies.items()},
                "metrics": dict(evaluations[i].metrics),
            }
        )
    before, after = sides
    ratios = {"size": after["size_bytes"] / before["size_bytes"]}
    for batch in latencies:
        ratios[f"latency_{batch}"] = (
            after["latency_ms_p50"][batch] / before["latency_ms_p50"][batch]
        )
    ratios[f"throughput_batch_{BATCHES[-1]}"] = 1.0 / ratios[f"latency_batch_{BATCHES[-1]}"]
    return {
        "parent": before,
        "child": after,
        "ratios": ratios,
        "delta": {
            name: after["metrics"][name] - value
            for name, value in before["metrics"].items()
            if name in after["metrics"]
        },
        "measurement": {
            "threads": threads,
            "runs": {batch: timing[0][1] for batch, timing in latencies.items()},
            "evaluation_rows": len(dataset),
            "machine": f"{platform.machine()} {platform.processor() or platform.system()}",
        },
    }


def batch_items(predictors: list[Predictor], dataset: Dataset, size: int) -> list[list[np.ndarray]]:
    """The first ``size`` rows of ``dataset`` (cycled if it has fewer), prepared by each
    predictor as a request would be."""
    inputs = model_inputs(predictors[0], dataset, param="evaluation_file")
    rows = inputs[np.arange(size) % len(inputs)]
    return [
        predictor.prepare_v2({predictor.signature.inputs[0].name: rows}) for predictor in predictors
    ]


def alternating_p50(
    predictors: list[Predictor],
    items: list[list[np.ndarray]],
    *,
    min_seconds: float = MIN_SECONDS,
    rounds: int = ROUNDS,
) -> list[tuple[float, int]]:
    """(median milliseconds, runs) of ``run`` for each predictor on its items, timed in
    ``rounds`` alternating rounds after a warm-up."""
    for predictor, prepared in zip(predictors, items, strict=True):
        for _ in range(WARMUP_RUNS):
            predictor.run(prepared)
    # Size a round from one quick probe, so each side gets at least MIN_RUNS runs and
    # roughly ``min_seconds`` of timed work.
    per_run = [max(_once(p, batch), 1e-6) for p, batch in zip(predictors, items, strict=True)]
    runs = [
        int(min(MAX_RUNS, max(MIN_RUNS, min_seconds / seconds)) // rounds + 1)
        for seconds in per_run
    ]
    timings: list[list[float]] = [[] for _ in predictors]
    for _ in range(rounds):
        for i, (predictor, prepared) in enumerate(zip(predictors, items, strict=True)):
            for _ in range(runs[i]):
                timings[i].append(_once(predictor, prepared))
    return [(float(np.median(t)) * 1000.0, len(t)) for t in timings]


def _once(predictor: Predictor, items: list[np.ndarray]) -> float:
    started = time.perf_counter()
    predictor.run(items)
    return time.perf_counter() - started

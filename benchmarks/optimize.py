"""Optimization methods, before and after, on this machine.

Trains the digits CNN (8x8 images, channels [32, 64], hidden 128) and two LSTMs (digits
as 8-step sequences; generated text topics) in-process, applies each optimization method
that fits, and measures parent and child with ``aimaas.optimize.compare`` (the same code
an optimization job runs): artifact size, p50 latency of ``Predictor.run`` at batch 1
and batch 32 (parent and child timed in alternating rounds, on a fixed thread count),
and held-out accuracy (scikit-learn's, through ``aimaas.evaluate``). Chains (channel
pruning, then int8 or ONNX) are compared with the original model.

    .venv/bin/python benchmarks/optimize.py                      # 1 thread, 1 s per timing
    .venv/bin/python benchmarks/optimize.py --threads 2 --seconds 2 --json-out /tmp/opt.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.datasets import load_digits  # type: ignore[import-untyped]
from sklearn.model_selection import train_test_split  # type: ignore[import-untyped]

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aimaas.learn import artifacts, trainer
from aimaas.learn.inputs import TrainingData
from aimaas.optimize import methods
from aimaas.optimize.artifacts import OptimizedArtifact
from aimaas.optimize.compare import Side, compare
from aimaas.optimize.optimizer import optimize
from aimaas.uploads.dataset import Dataset

TOPICS = {
    "sports": "goal match team score player coach league referee stadium season ball win",
    "food": "pasta sauce bread cheese oven recipe spice soup salad butter garlic bake",
    "tech": "laptop server code network chip software cloud battery screen data kernel app",
}
FILLER = [
    "the", "a", "is", "was", "very", "really", "and", "of", "to", "in", "it", "this", "that",
    "my", "our",
]  # fmt: skip


@dataclass
class Subject:
    name: str
    algorithm: str
    data: TrainingData
    hyperparameters: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)


def digits(kind: str) -> TrainingData:
    data = load_digits()
    if kind == "images":
        features: np.ndarray = np.round(data.images * 255 / 16).astype(np.uint8)[..., None]
    else:
        features = data.images.astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(
        features, data.target, test_size=0.25, random_state=0, stratify=data.target
    )
    return TrainingData(
        Dataset(kind, features=x_train, targets=y_train),  # type: ignore[arg-type]
        Dataset(kind, features=x_test, targets=y_test),  # type: ignore[arg-type]
        [],
    )


def topics(n: int, seed: int) -> Dataset:
    """Sentences of filler and topic words, half with one word of another topic; the label
    is the topic (as tests/learn generates them)."""
    rng = np.random.default_rng(seed)
    names = sorted(TOPICS)
    texts, labels = [], []
    for _ in range(n):
        topic = names[int(rng.integers(len(names)))]
        length = int(rng.integers(3, 15))
        words = [
            str(rng.choice(TOPICS[topic].split()))
            if rng.random() < 0.4
            else str(rng.choice(FILLER))
            for _ in range(length)
        ]
        words[int(rng.integers(length))] = str(rng.choice(TOPICS[topic].split()))
        if rng.random() < 0.5:
            other = names[(names.index(topic) + 1 + int(rng.integers(2))) % 3]
            words.insert(int(rng.integers(length)), str(rng.choice(TOPICS[other].split())))
        texts.append(" ".join(words).capitalize() + ".")
        labels.append(topic)
    return Dataset("text", texts=texts, targets=np.asarray(labels, dtype=object))


def train(subject: Subject) -> None:
    started = time.perf_counter()
    model = trainer.train(
        subject.algorithm,
        subject.data.train,
        subject.data.validation,
        subject.hyperparameters,
        seed=0,
        checkpoint_dir=None,
        on_event=lambda _: None,
        should_stop=lambda: False,
    )
    weights, description = artifacts.save(model)
    subject.files = {"model.safetensors": weights, "model.json": description}
    subject.hyperparameters = model.spec["training"]["hyperparameters"]
    print(f"trained {subject.name} in {time.perf_counter() - started:.1f}s", file=sys.stderr)


def apply(subject: Subject, files: dict[str, bytes], method: str, **options: Any) -> (
    OptimizedArtifact
):  # fmt: skip
    weights = files.get("model.onnx") or files["model.safetensors"]
    return optimize(
        method,
        methods.parse_options(method, options),
        weights,
        files["model.json"],
        subject.data,
        hyperparameters=subject.hyperparameters,
        seed=0,
        on_event=lambda _: None,
        check_stop=lambda: None,
    )


def label(steps: list[tuple[str, dict[str, Any]]]) -> str:
    def one(method: str, options: dict[str, Any]) -> str:
        shown = ",".join(f"{k}={v}" for k, v in options.items())
        return f"{method}({shown})" if shown else method

    return " + ".join(one(m, o) for m, o in steps)


def measure(
    subject: Subject, steps: list[tuple[str, dict[str, Any]]], *, threads: int, seconds: float
) -> dict[str, Any]:
    files = subject.files
    started = time.perf_counter()
    for method, options in steps:
        files = apply(subject, files, method, **options).files
    made = time.perf_counter() - started
    assert subject.data.validation is not None
    result = compare(
        Side({"model": subject.name, "version": 1, "format": "aimaas-torch"}, subject.files),
        Side({"model": subject.name, "version": 2, "format": "optimized"}, files),
        subject.data.validation,
        threads=threads,
        min_seconds=seconds,
    )
    result["method"] = label(steps)
    result["seconds_to_make"] = made
    return result


def row(result: dict[str, Any]) -> list[str]:
    p, c = result["parent"], result["child"]

    def timing(batch: str) -> str:
        before, after = p["latency_ms_p50"][batch], c["latency_ms_p50"][batch]
        return f"{before:.3f} -> {after:.3f} ({before / after:.2f}x)"

    return [
        p["model"],
        result["method"],
        f"{p['size_bytes'] / 1024:.0f} -> {c['size_bytes'] / 1024:.0f} KiB "
        f"({c['size_bytes'] / p['size_bytes']:.2f}x)",
        timing("batch_1"),
        timing("batch_32"),
        f"{p['metrics']['accuracy']:.4f} -> {c['metrics']['accuracy']:.4f} "
        f"({100 * (c['metrics']['accuracy'] - p['metrics']['accuracy']):+.1f} pt)",
    ]


def table(results: list[dict[str, Any]], threads: int) -> str:
    header = [
        "model",
        "method",
        "size (ratio)",
        "batch 1 p50 ms (speed-up)",
        "batch 32 p50 ms (throughput)",
        "accuracy (change)",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row(r)) + " |" for r in results]
    return "\n".join(lines) + f"\n\n{threads} thread(s); latencies are parent -> child."


PLAN: dict[str, list[list[tuple[str, dict[str, Any]]]]] = {
    "digits-cnn": [
        [("quantize_dynamic", {})],
        [("quantize_static", {})],
        [("prune", {"sparsity": 0.5})],
        [("prune", {"sparsity": 0.8, "fine_tune_epochs": 3})],
        [("prune_structured", {"sparsity": 0.5})],
        [("prune_structured", {"sparsity": 0.5, "fine_tune_epochs": 10})],
        [("export_onnx", {"graph_optimization": "basic"})],
        [("export_onnx", {})],
        [("prune_structured", {"sparsity": 0.5, "fine_tune_epochs": 10}), ("quantize_static", {})],
        [("prune_structured", {"sparsity": 0.5, "fine_tune_epochs": 10}), ("export_onnx", {})],
    ],
    "digits-lstm": [
        [("quantize_dynamic", {})],
        [("prune", {"sparsity": 0.5})],
        [("export_onnx", {})],
    ],
    "topics-lstm": [
        [("quantize_dynamic", {})],
        [("prune", {"sparsity": 0.5})],
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="torch / onnxruntime threads")
    parser.add_argument("--seconds", type=float, default=1.0, help="timed work per side")
    parser.add_argument("--models", default=",".join(PLAN), help="comma-separated")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    subjects = {
        "digits-cnn": Subject("digits-cnn", "cnn", digits("images"), {"epochs": 15}),
        "digits-lstm": Subject(
            "digits-lstm", "rnn", digits("tensor"), {"epochs": 15, "cell": "lstm"}
        ),
        "topics-lstm": Subject(
            "topics-lstm",
            "rnn",
            TrainingData(topics(600, seed=0), topics(300, seed=1), []),
            {"epochs": 8, "cell": "lstm"},
        ),
    }
    results = []
    for name in args.models.split(","):
        subject = subjects[name]
        train(subject)
        for steps in PLAN[name]:
            result = measure(subject, steps, threads=args.threads, seconds=args.seconds)
            print(" | ".join(row(result)), file=sys.stderr)
            results.append(result)
    print(table(results, args.threads))
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

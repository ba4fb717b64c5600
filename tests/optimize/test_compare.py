"""Every number in a comparison is measured, and each is checked here against a measurement
of our own: sizes against ``len(bytes)``, latencies against a re-timing (within a
generous factor: the machine is shared), metrics against scikit-learn on the very
predictions the served predictor makes."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, f1_score  # type: ignore[import-untyped]

from aimaas.learn import artifacts
from aimaas.learn.servable import Predictor
from aimaas.optimize.compare import Side, alternating_p50, compare
from aimaas.process import torch_threads
from tests.learn import one_thread
from tests.optimize import child, held_out, parent, predicted_labels

CNN = "cnn-digits"
FACTOR = 5.0  # latencies on a shared 2-core machine: within 5x of a re-measurement


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


def median_ms(predictor: Predictor, rows: np.ndarray, runs: int = 60) -> float:
    items = predictor.prepare_v2({"input": rows})
    for _ in range(5):
        predictor.run(items)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        predictor.run(items)
        times.append(time.perf_counter() - started)
    return float(np.median(times)) * 1000


@pytest.mark.parametrize("method", ["export_onnx", "quantize_static"])
def test_every_number_in_a_comparison_is_measured(method: str) -> None:
    weights, spec_json = parent(CNN)
    artifact = child(CNN, method)
    test = held_out(CNN)
    result = compare(
        Side({"model": "digits", "version": 1, "format": "aimaas-torch"},
             {"model.safetensors": weights, "model.json": spec_json}),
        Side({"model": "digits", "version": 2, "format": artifact.format}, artifact.files),
        test,
        threads=1,
        min_seconds=0.1,
    )  # fmt: skip
    sides = {"parent": {"model.safetensors": weights, "model.json": spec_json}}
    sides["child"] = artifact.files
    assert test.features is not None and test.targets is not None
    rows = test.features.astype(np.float32)
    for name, files in sides.items():
        measured = result[name]
        # Sizes: the bytes stored.
        assert measured["files"] == {file: len(data) for file, data in files.items()}
        assert measured["size_bytes"] == sum(len(data) for data in files.values())
        # Metrics: scikit-learn on the predictions of the same served predictor.
        weights_name = "model.onnx" if "model.onnx" in files else "model.safetensors"
        predictor = artifacts.load_predictor(files[weights_name], files["model.json"])
        labels = predicted_labels(predictor, test).astype(np.int64)
        assert measured["metrics"]["accuracy"] == pytest.approx(
            accuracy_score(test.targets, labels), abs=1e-12
        )
        assert measured["metrics"]["f1_macro"] == pytest.approx(
            f1_score(test.targets, labels, average="macro"), abs=1e-12
        )
        # Latencies: a re-measurement, on the same thread count.
        with torch_threads(1):
            for batch in (1, 32):
                again = median_ms(predictor, rows[:batch])
                found = measured["latency_ms_p50"][f"batch_{batch}"]
                assert again / FACTOR < found < again * FACTOR, (name, batch, found, again)
    ratios = result["ratios"]
    assert ratios["size"] == pytest.approx(
        result["child"]["size_bytes"] / result["parent"]["size_bytes"]
    )
    latency = {name: result[name]["latency_ms_p50"]["batch_32"] for name in ("parent", "child")}
    assert ratios["latency_batch_32"] == pytest.approx(latency["child"] / latency["parent"])
    assert ratios["throughput_batch_32"] == pytest.approx(latency["parent"] / latency["child"])
    assert result["delta"]["accuracy"] == pytest.approx(
        result["child"]["metrics"]["accuracy"] - result["parent"]["metrics"]["accuracy"]
    )
    assert result["measurement"]["threads"] == 1
    assert result["measurement"]["evaluation_rows"] == len(test)
    assert torch.get_num_threads() == 1  # restored


def test_alternating_timing_runs_each_predictor_on_its_own_items() -> None:
    calls: list[tuple[str, int]] = []

    class Fake:
        def __init__(self, name: str, seconds: float) -> None:
            self.name, self.seconds = name, seconds

        def run(self, items: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
            calls.append((self.name, len(items)))
            time.sleep(self.seconds)
            return []

    slow, fast = Fake("slow", 0.002), Fake("fast", 0.0005)
    items = [[np.zeros(1)] * 3, [np.zeros(1)] * 3]
    (slow_ms, slow_runs), (fast_ms, fast_runs) = alternating_p50(
        [slow, fast],  # type: ignore[list-item]
        items,
        min_seconds=0.05,
        rounds=4,
    )
    assert slow_ms > fast_ms >= 0.5
    assert slow_runs >= 30 and fast_runs >= 30
    assert {n for n, _ in calls} == {"slow", "fast"} and {k for _, k in calls} == {3}
    # Alternating: the two names interleave in rounds, not one block each.
    changes = sum(1 for a, b in itertools.pairwise(calls) if a[0] != b[0])
    assert changes >= 2 * 4 - 1

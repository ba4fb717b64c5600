"""Optimization through the service, end to end: train the digits CNN, optimize it as a
job, and serve the new version over v2 infer and predict next to its parent."""

from __future__ import annotations

import base64
import io
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from tests.e2e.server import LiveServer, start_server
from tests.e2e.test_training import ENV, iris_csv, upload, wait_for

pytestmark = pytest.mark.e2e


def png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray((pixels * 255 / 16).astype(np.uint8), mode="L").save(out, "PNG")
    return out.getvalue()


def digits() -> tuple[bytes, np.ndarray, np.ndarray]:
    """(a zip of training image folders, held-out images, held-out labels)."""
    data = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        data.images, data.target, test_size=0.25, random_state=0, stratify=data.target
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for i, (image, label) in enumerate(zip(x_train, y_train, strict=True)):
            archive.writestr(f"{label}/{i:04d}.png", png(image))
    return out.getvalue(), x_test, y_test


def finish(client: httpx.Client, optimization_id: str, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = client.get(f"/v1/optimizations/{optimization_id}").json()
        if found["status"] in ("succeeded", "failed", "cancelled"):
            return found
        time.sleep(0.2)
    raise AssertionError(f"optimization {optimization_id} did not end: {found}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with start_server(tmp_path_factory.mktemp("optimize") / "data", env=ENV) as live:
        yield live


@pytest.fixture(scope="module")
def trained(server: LiveServer) -> dict[str, Any]:
    archive, x_test, y_test = digits()
    with server.http() as client:
        file_id = upload(client, archive, "digits.zip")
        job = client.post(
            "/v1/training/jobs",
            json={"model": "digits", "algorithm": "cnn", "training_file": file_id, "seed": 0,
                  "hyperparameters": {"epochs": 10, "learning_rate": 0.003}},
        ).json()  # fmt: skip
        ended = wait_for(client, job["id"], {"succeeded", "failed"})
        assert ended["status"] == "succeeded", ended
    return {"file": file_id, "x_test": x_test, "y_test": y_test}


def infer_labels(client: httpx.Client, ref: str, images: np.ndarray) -> list[Any]:
    pixels = (images * 255 / 16)[..., None].astype(np.float32)  # (N, 8, 8, 1)
    name, _, version = ref.partition(":")
    response = client.post(
        f"/v2/models/{name}/versions/{version}/infer",
        json={"inputs": [{"name": "input", "datatype": "FP32", "shape": list(pixels.shape),
                          "data": pixels.reshape(-1).tolist()}]},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    outputs = {output["name"]: output for output in response.json()["outputs"]}
    return list(outputs["label"]["data"])


@pytest.mark.parametrize(
    ("method", "options", "weights", "version"),
    [
        ("export_onnx", {}, "model.onnx", 2),
        ("prune_structured", {"sparsity": 0.5, "fine_tune_epochs": 3}, "model.safetensors", 3),
    ],
)
def test_an_optimized_version_is_registered_compared_and_served(
    server: LiveServer,
    trained: dict[str, Any],
    method: str,
    options: dict[str, Any],
    weights: str,
    version: int,
) -> None:
    with server.http() as client:
        response = client.post(
            "/v1/optimizations", json={"model": "digits:1", "method": method, "options": options}
        )
        assert response.status_code == 201, response.text
        created = response.json()
        assert created["object"] == "optimization" and created["status"] == "queued"
        assert created["source_model"] == "digits" and created["source_version"] == 1
        ended = finish(client, created["id"])
        assert ended["status"] == "succeeded", ended
        assert ended["result_model"] == "digits" and ended["result_version"] == version
        comparison = ended["comparison"]
        parent, child = comparison["parent"], comparison["child"]
        assert parent["version"] == 1 and child["version"] == version
        assert set(child["files"]) == {weights, "model.json"}
        for side in (parent, child):
            assert side["size_bytes"] == sum(side["files"].values()) > 0
            assert side["latency_ms_p50"]["batch_1"] > 0
            assert side["latency_ms_p50"]["batch_32"] > 0
            assert 0.8 <= side["metrics"]["accuracy"] <= 1.0
        assert comparison["measurement"]["threads"] == 1
        if method == "prune_structured":
            assert child["size_bytes"] < parent["size_bytes"]
        listed = {o["id"] for o in client.get("/v1/optimizations").json()["data"]}
        assert created["id"] in listed

        # Served like any version: v2 metadata, v2 infer and predict, same held-out labels.
        meta = client.get(f"/v2/models/digits/versions/{version}").json()
        assert meta["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 8, 8, 1]}]
        x_test, y_test = trained["x_test"][:200], trained["y_test"][:200]
        before = infer_labels(client, "digits:1", x_test)
        after = infer_labels(client, f"digits:{version}", x_test)
        agree = np.mean([a == b for a, b in zip(before, after, strict=True)])
        assert agree >= 0.95, agree
        assert np.mean([str(a) == str(y) for a, y in zip(after, y_test, strict=True)]) >= 0.9
        images = [base64.b64encode(png(image)).decode() for image in x_test[:20]]
        predicted = client.post(f"/v1/models/digits:{version}/predict", json={"instances": images})
        assert predicted.status_code == 200, predicted.text
        assert [p["label"] for p in predicted.json()["predictions"]] == after[:20]


def test_bad_optimizations_are_refused_with_the_field(
    server: LiveServer, trained: dict[str, Any]
) -> None:
    with server.http() as client:
        iris = upload(client, iris_csv(), "iris.csv")
        job = client.post(
            "/v1/training/jobs",
            json={"model": "iris", "algorithm": "mlp", "training_file": iris, "target": "species",
                  "hyperparameters": {"epochs": 3}},
        ).json()  # fmt: skip
        assert wait_for(client, job["id"], {"succeeded", "failed"})["status"] == "succeeded"
        cases: list[tuple[dict[str, Any], int, str]] = [
            ({"method": "distill"}, 400, "method"),
            ({"method": "prune", "options": {"sparsity": 2}}, 400, "options.sparsity"),
            ({"method": "prune", "options": {"fine_tune_epochs": 1000}}, 400,
             "options.fine_tune_epochs"),
            ({"method": "prune", "options": {"amount": 0.5}}, 400, "options.amount"),
            ({"model": "iris", "method": "prune_structured"}, 400, "method"),
            ({"model": "iris", "method": "quantize_static"}, 400, "method"),
            ({"model": "nothing", "method": "prune"}, 404, "model"),
            ({"model": "digits:9", "method": "prune"}, 404, "model"),
            ({"method": "prune", "evaluation_file": "file-nope"}, 404, "evaluation_file"),
            ({"method": "prune", "surprise": 1}, 400, "surprise"),
        ]  # fmt: skip
        for change, status, param in cases:
            response = client.post("/v1/optimizations", json={"model": "digits", **change})
            assert response.status_code == status, (change, response.text)
            assert param in (response.json()["error"]["param"] or ""), (change, response.json())
        assert client.get("/v1/optimizations/job-nope").status_code == 404
        methods = client.get("/v1/optimizations/methods").json()["data"]
        assert {m["method"] for m in methods} == {
            "quantize_dynamic", "quantize_static", "prune", "prune_structured", "export_onnx",
        }  # fmt: skip
    with httpx.Client(base_url=server.url) as anonymous:
        assert anonymous.post("/v1/optimizations", json={}).status_code == 401


def test_cli_optimize_shows_the_comparison(server: LiveServer, trained: dict[str, Any]) -> None:
    import subprocess
    import sys

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "aimaas", "optimize", *args,
             "--url", server.url, "--api-key", server.admin_key],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    done = cli("digits:1", "--method", "quantize_static", "--set", "calibration_rows=256")
    assert done.returncode == 0, done.stderr
    assert "size (bytes)" in done.stdout and "accuracy" in done.stdout
    assert "p50 latency batch 32" in done.stdout
    assert "registered" in done.stdout
    refused = cli("digits", "--method", "prune", "--set", "sparsity=5")
    assert refused.returncode == 1
    assert "options.sparsity" in refused.stderr

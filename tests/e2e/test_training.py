"""Training through the service, end to end: upload, train in a worker process, follow,
predict over v2 and KServe v1, cancel, and resume after ``kill -9``."""

from __future__ import annotations

import concurrent.futures
import io
import json
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sklearn.datasets import load_iris

from tests.e2e.server import LiveServer, start_server

pytestmark = pytest.mark.e2e

ENV = {"AIMAAS_ENGINE__DEFAULT_MODELS": "false", "AIMAAS_TRAINING__THREADS": "1"}


def iris_csv() -> bytes:
    data = load_iris()
    out = io.StringIO()
    out.write(",".join([*data.feature_names, "species"]) + "\n")
    for row, label in zip(data.data, data.target, strict=True):
        out.write(",".join(f"{v:g}" for v in row) + f",{data.target_names[label]}\n")
    return out.getvalue().encode()


def big_csv(rows: int = 20_000, features: int = 16, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, features))
    y = (x[:, 0] + x[:, 1] * x[:, 2] > 0).astype(int)
    lines = [",".join([*(f"f{i}" for i in range(features)), "label"])]
    lines += [",".join(f"{v:.5f}" for v in row) + f",{t}" for row, t in zip(x, y, strict=True)]
    return ("\n".join(lines) + "\n").encode()


def upload(client: httpx.Client, content: bytes, name: str = "data.csv") -> str:
    response = client.post(
        "/v1/files", files={"file": (name, content)}, data={"purpose": "training"}
    )
    assert response.status_code in (200, 201), response.text
    return str(response.json()["id"])


def wait_for(client: httpx.Client, job_id: str, statuses: set[str], timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/training/jobs/{job_id}").json()
        if job["status"] in statuses:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not reach {statuses}: {job}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with start_server(tmp_path_factory.mktemp("train") / "data", env=ENV) as live:
        yield live


@pytest.fixture(scope="module")
def iris_model(server: LiveServer) -> dict[str, Any]:
    with server.http() as client:
        file_id = upload(client, iris_csv(), "iris.csv")
        response = client.post(
            "/v1/training/jobs",
            json={
                "model": "iris",
                "algorithm": "logistic_regression",
                "training_file": file_id,
                "target": "species",
                "seed": 7,
            },
        )
        assert response.status_code == 201, response.text
        job = response.json()
        assert job["status"] == "queued" and job["seed"] == 7
        return dict(wait_for(client, job["id"], {"succeeded", "failed"}))


def test_a_job_trains_registers_and_reports(server: LiveServer, iris_model: dict[str, Any]) -> None:
    assert iris_model["status"] == "succeeded", iris_model
    assert iris_model["result_model"] == "iris" and iris_model["result_version"] == 1
    assert iris_model["metrics"]["val_accuracy"] >= 0.85
    with server.http() as client:
        events = client.get(f"/v1/training/jobs/{iris_model['id']}/events").json()["data"]
        kinds = [e["type"] for e in events]
        assert kinds[0] == "status" and events[-1]["data"]["status"] == "succeeded"
        assert "epoch" in kinds
        # Server-sent events replay everything and end when the job has ended.
        with client.stream(
            "GET",
            f"/v1/training/jobs/{iris_model['id']}/events",
            headers={"Accept": "text/event-stream"},
        ) as stream:
            lines = [line for line in stream.iter_lines() if line.startswith("data: ")]
        assert [json.loads(line[6:])["id"] for line in lines] == [e["id"] for e in events]
        listed = client.get("/v1/training/jobs").json()["data"]
        assert iris_model["id"] in {job["id"] for job in listed}
        models = {m["id"] for m in client.get("/v1/models").json()["data"]}
        assert "iris" in models


def test_predict_takes_raw_rows_and_answers_labels(
    server: LiveServer, iris_model: dict[str, Any]
) -> None:
    data = load_iris()
    rows = [dict(zip(data.feature_names, map(float, x), strict=True)) for x in data.data[::50]]
    with server.http() as client:
        for ref in ("iris", "iris:1"):
            response = client.post(f"/v1/models/{ref}/predict", json={"instances": rows})
            assert response.status_code == 200, response.text
            predictions = response.json()["predictions"]
            assert [p["label"] for p in predictions] == ["setosa", "versicolor", "virginica"]
            assert abs(sum(predictions[0]["probabilities"].values()) - 1) < 1e-4
        bad = client.post("/v1/models/iris/predict", json={"instances": [rows[0], {"x": 1}]})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "instances[1]"


def test_v2_metadata_infer_and_mismatches(server: LiveServer, iris_model: dict[str, Any]) -> None:
    data = load_iris()
    with server.http() as client:
        meta = client.get("/v2/models/iris").json()
        assert meta["name"] == "iris" and meta["versions"] == ["1"]
        assert meta["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 4]}]
        assert {o["name"] for o in meta["outputs"]} == {"probabilities", "label"}
        assert client.get("/v2/models/iris/versions/1/ready").json() == {"ready": True}
        body = {
            "id": "r1",
            "inputs": [
                {
                    "name": "input",
                    "shape": [3, 4],
                    "datatype": "FP32",
                    "data": data.data[::50].ravel().tolist(),
                }
            ],
        }
        response = client.post("/v2/models/iris/infer", json=body)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["id"] == "r1" and answer["model_version"] == "1"
        outputs = {o["name"]: o for o in answer["outputs"]}
        assert outputs["probabilities"]["shape"] == [3, 3]
        assert outputs["label"]["data"] == ["setosa", "versicolor", "virginica"]
        cases = {
            "shape": {"shape": [3, 5]},
            "length": {"shape": [2, 4]},
            "datatype": {"datatype": "FP64"},
            "values": {"data": ["a"] * 12},
        }
        for case, change in cases.items():
            wrong = {"inputs": [{**body["inputs"][0], **change}]}
            refused = client.post("/v2/models/iris/versions/1/infer", json=wrong)
            assert refused.status_code == 400, (case, refused.text)
            assert "'input'" in refused.json()["error"], (case, refused.json())
        unknown = client.post(
            "/v2/models/iris/infer", json={"inputs": [{**body["inputs"][0], "name": "x"}]}
        )
        assert unknown.status_code == 400 and "'x'" in unknown.json()["error"]
        assert client.get("/v2/models/nope").status_code == 404


# What batching promises (docs/training.md): labels and shapes identical to a solo run;
# floating-point outputs within this absolute tolerance. BLAS picks other kernels for other
# batch sizes (AVX-512 machines differ in the 8th digit), so bit-equality is not promised.
BATCH_TOLERANCE = 1e-5


def assert_same_outputs(batched: list[dict[str, Any]], solo: list[dict[str, Any]]) -> None:
    assert [(o["name"], o["datatype"], o["shape"]) for o in batched] == [
        (o["name"], o["datatype"], o["shape"]) for o in solo
    ]
    for mine, alone in zip(batched, solo, strict=True):
        if mine["datatype"].startswith("FP"):
            assert np.allclose(mine["data"], alone["data"], rtol=0, atol=BATCH_TOLERANCE)
        else:
            assert mine["data"] == alone["data"]  # labels, indices: exactly the same


def test_concurrent_requests_share_batches_and_bad_ones_fail_alone(
    server: LiveServer, iris_model: dict[str, Any]
) -> None:
    data = load_iris()
    rows = data.data.astype(float)

    def infer(i: int) -> httpx.Response:
        row = rows[i % len(rows)].tolist()
        if i % 5 == 0:
            row = row[:3]  # wrong length: refused alone
        body = {"inputs": [{"name": "input", "shape": [1, len(row)], "datatype": "FP32",
                            "data": row}]}  # fmt: skip
        with server.http() as client:
            return client.post("/v2/models/iris/infer", json=body)

    with server.http() as client:
        solo = {
            i: client.post(
                "/v2/models/iris/infer",
                json={
                    "inputs": [
                        {
                            "name": "input",
                            "shape": [1, 4],
                            "datatype": "FP32",
                            "data": rows[i].tolist(),
                        }
                    ]
                },
            ).json()["outputs"]
            for i in range(1, 40)
            if i % 5
        }
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(infer, range(1, 40)))
    for i, response in zip(range(1, 40), answers, strict=True):
        if i % 5 == 0:
            assert response.status_code == 400
        else:
            assert response.status_code == 200
            assert_same_outputs(response.json()["outputs"], solo[i])
    with server.http() as client:
        metrics = client.get("/metrics").text
    batches = [
        line for line in metrics.splitlines() if line.startswith("aimaas_predict_batch_rows_bucket")
    ]
    one_row = next(float(b.split()[-1]) for b in batches if 'le="1.0"' in b)
    total = next(float(b.split()[-1]) for b in batches if 'le="+Inf"' in b)
    assert total > one_row, "no forward pass ever took more than one row"


def test_bad_jobs_are_refused_with_the_field(server: LiveServer) -> None:
    with server.http() as client:
        file_id = upload(client, iris_csv(), "iris.csv")
        base = {"model": "m", "training_file": file_id, "target": "species"}
        cases: list[tuple[dict[str, Any], str]] = [
            ({"algorithm": "mlp", "hyperparameters": {"epochs": 10**9}}, "hyperparameters.epochs"),
            ({"algorithm": "mlp", "hyperparameters": {"batch_size": 0}},
             "hyperparameters.batch_size"),
            ({"algorithm": "mlp", "hyperparameters": {"nope": 1}}, "hyperparameters.nope"),
            ({"algorithm": "boosting"}, "algorithm"),
            ({"algorithm": "mlp", "target": "colour"}, "target"),
        ]  # fmt: skip
        for change, param in cases:
            response = client.post("/v1/training/jobs", json={**base, **change})
            assert response.status_code == 400, (change, response.text)
            assert response.json()["error"]["param"] == param, response.json()
        missing = client.post(
            "/v1/training/jobs", json={**base, "algorithm": "mlp", "training_file": "file-x"}
        )
        assert missing.status_code == 404
        nan = client.post(
            "/v1/training/jobs",
            content=b'{"model": "m", "algorithm": "mlp", "training_file": "%s", '
            b'"hyperparameters": {"learning_rate": NaN}}' % file_id.encode(),
            headers={"Content-Type": "application/json"},
        )
        assert nan.status_code == 400


def test_cancel_stops_a_running_job(server: LiveServer) -> None:
    with server.http() as client:
        file_id = upload(client, big_csv(seed=1))
        job = client.post(
            "/v1/training/jobs",
            json={"model": "long", "algorithm": "mlp", "training_file": file_id,
                  "target": "label", "hyperparameters": {"epochs": 500}},
        ).json()  # fmt: skip
        wait_for(client, job["id"], {"running"})
        cancelled = client.post(f"/v1/training/jobs/{job['id']}/cancel")
        assert cancelled.status_code == 200
        ended = wait_for(client, job["id"], {"cancelled", "succeeded", "failed"}, timeout=30)
        assert ended["status"] == "cancelled"
        assert client.get("/v1/models/long").status_code == 404


def _digest(data_dir: Path, model: str) -> str:
    with sqlite3.connect(data_dir / "aimaas.db") as db:
        row = db.execute(
            "SELECT v.artifact_digest FROM model_versions v JOIN models m ON m.id = v.model_id "
            "WHERE m.name = ? ORDER BY v.version DESC",
            (model,),
        ).fetchone()
    return str(row[0])


def test_kill_9_mid_training_resumes_to_the_same_weights(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    spec = {"algorithm": "mlp", "target": "label", "seed": 3,
            "hyperparameters": {"epochs": 6, "patience": 100}}  # fmt: skip
    server = start_server(data_dir, env=ENV)
    with server.http() as client:
        file_id = upload(client, big_csv(seed=2))
        job = client.post(
            "/v1/training/jobs", json={**spec, "model": "resumed", "training_file": file_id}
        ).json()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            events = client.get(f"/v1/training/jobs/{job['id']}/events").json()["data"]
            if any(e["type"] == "epoch" and e["data"]["epoch"] >= 2 for e in events):
                break
            time.sleep(0.1)
    server.stop(signal.SIGKILL)
    with start_server(data_dir, env=ENV) as server, server.http() as client:
        ended = wait_for(client, job["id"], {"succeeded", "failed"}, timeout=180)
        assert ended["status"] == "succeeded", ended
        assert ended["attempts"] == 2
        events = client.get(f"/v1/training/jobs/{job['id']}/events").json()["data"]
        assert any(e["type"] == "resumed" for e in events)
        again = client.post(
            "/v1/training/jobs", json={**spec, "model": "straight", "training_file": file_id}
        ).json()
        assert wait_for(client, again["id"], {"succeeded", "failed"})["status"] == "succeeded"
    assert _digest(data_dir, "resumed") == _digest(data_dir, "straight")


def test_the_algorithm_catalogue_shows_bounds(server: LiveServer) -> None:
    with server.http() as client:
        catalogue = {a["name"]: a for a in client.get("/v1/training/algorithms").json()["data"]}
    assert set(catalogue) >= {"linear_regression", "logistic_regression", "cnn", "word2vec"}
    epochs = catalogue["mlp"]["hyperparameters"]["properties"]["epochs"]
    assert epochs["minimum"] == 1 and epochs["maximum"] == 10_000
    assert catalogue["cnn"]["kinds"] == ["images", "tensor"]


def test_cli_train_uploads_trains_and_reports(server: LiveServer, tmp_path: Path) -> None:
    import subprocess
    import sys

    data = tmp_path / "iris.csv"
    data.write_bytes(iris_csv())
    result = subprocess.run(
        [sys.executable, "-m", "aimaas", "train", "logistic_regression", "--file", str(data),
         "--target", "species", "--model", "iris-cli", "--set", "l2=0.5", "--seed", "1",
         "--url", server.url, "--api-key", server.admin_key],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "iris-cli:1 trained" in result.stdout
    with server.http() as client:
        jobs = client.get("/v1/training/jobs").json()["data"]
    job = next(j for j in jobs if j["model"] == "iris-cli")
    assert job["hyperparameters"]["l2"] == 0.5 and job["seed"] == 1
    refused = subprocess.run(
        [sys.executable, "-m", "aimaas", "train", "mlp", "--file", str(data), "--model", "x",
         "--target", "species", "--set", "epochs=0", "--url", server.url,
         "--api-key", server.admin_key],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert refused.returncode == 1 and "hyperparameters.epochs" in refused.stderr

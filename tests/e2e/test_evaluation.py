"""Evaluation through the service, end to end: train two versions, evaluate both in worker
processes, compare them, read the HTML report, promote through the gate (and be refused
with both numbers), serve ``name@production`` as the alias moves, perplexity of a tiny
Hugging Face causal LM, and the refusals of bad requests."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.metrics import accuracy_score, f1_score, log_loss

from tests.e2e.server import LiveServer, start_server
from tests.e2e.test_training import ENV, iris_csv, upload, wait_for
from tests.evaluate import tiny_causal_lm
from tests.evaluate.test_perplexity import reference

pytestmark = pytest.mark.e2e

MODEL = "iris-eval"


def wait_evaluation(client: httpx.Client, evaluation_id: str, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        evaluation = client.get(f"/v1/evaluations/{evaluation_id}").json()
        if evaluation["status"] in ("succeeded", "failed", "cancelled"):
            return evaluation
        time.sleep(0.2)
    raise AssertionError(f"evaluation {evaluation_id} did not end: {evaluation}")


def evaluate(client: httpx.Client, **body: Any) -> Any:
    response = client.post("/v1/evaluations", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["object"] == "evaluation" and created["status"] == "queued"
    return created


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {**ENV, "AIMAAS_TRAINING__WORKERS": "2"}  # the two evaluations run side by side
    with start_server(tmp_path_factory.mktemp("evaluate") / "data", env=env) as live:
        yield live


@pytest.fixture(scope="module")
def setup(server: LiveServer) -> dict[str, Any]:
    """Version 1 (l2=1e4: heavily regularised, worse) and version 2 (l2=0.1), each evaluated
    on an uploaded file."""
    with server.http() as client:
        file_id = upload(client, iris_csv(), "iris.csv")
        eval_file = upload(client, iris_csv(), "iris-eval.csv")
        for l2 in (1e4, 0.1):
            job = client.post(
                "/v1/training/jobs",
                json={"model": MODEL, "algorithm": "logistic_regression", "training_file": file_id,
                      "target": "species", "seed": 3, "hyperparameters": {"l2": l2}},
            )  # fmt: skip
            assert job.status_code == 201, job.text
            assert wait_for(client, job.json()["id"], {"succeeded", "failed"})["status"] == (
                "succeeded"
            )
        # No target given: the one the model was trained with ("species").
        created = [evaluate(client, model=f"{MODEL}:{v}", file=eval_file) for v in (1, 2)]
        assert [c["version"] for c in created] == [1, 2]
        assert created[0]["target"] == "species" and created[0]["method"] == "metrics"
        done = [wait_evaluation(client, c["id"]) for c in created]
        for evaluation in done:
            assert evaluation["status"] == "succeeded", evaluation
    return {"file": file_id, "eval_file": eval_file, "evaluations": done}


def served(client: httpx.Client, ref: str) -> tuple[int, list[dict[str, Any]]]:
    data = load_iris()
    rows = [dict(zip(data.feature_names, map(float, x), strict=True)) for x in data.data]
    response = client.post(f"/v1/models/{ref}/predict", json={"instances": rows})
    assert response.status_code == 200, response.text
    return response.json()["version"], response.json()["predictions"]


def test_metrics_match_an_independent_measurement(
    server: LiveServer, setup: dict[str, Any]
) -> None:
    data = load_iris()
    truth = np.asarray(data.target_names)[data.target]
    with server.http() as client:
        for evaluation in setup["evaluations"]:
            version, predictions = served(client, f"{MODEL}:{evaluation['version']}")
            assert version == evaluation["version"]
            predicted = [p["label"] for p in predictions]
            classes = sorted(predictions[0]["probabilities"])
            p = np.array([[row["probabilities"][c] for c in classes] for row in predictions])
            metrics = evaluation["metrics"]
            assert metrics["accuracy"] == pytest.approx(accuracy_score(truth, predicted))
            assert metrics["f1_macro"] == pytest.approx(f1_score(truth, predicted, average="macro"))
            assert metrics["log_loss"] == pytest.approx(
                log_loss(truth, p / p.sum(axis=1, keepdims=True), labels=classes), rel=1e-4
            )
            assert set(metrics) >= {"precision_macro", "recall_weighted", "f1_weighted", "roc_auc"}
            assert evaluation["labels"] == classes and evaluation["rows"] == 150
            assert sum(map(sum, evaluation["confusion_matrix"])) == 150
            assert set(evaluation["per_class"]) == set(classes)
            assert evaluation["report_url"] == f"/v1/evaluations/{evaluation['id']}/report"


def test_versions_compare_and_the_report_shows_them(
    server: LiveServer, setup: dict[str, Any]
) -> None:
    first, second = setup["evaluations"]
    assert second["metrics"]["f1_macro"] > first["metrics"]["f1_macro"] + 0.1
    with server.http() as client:
        listed = client.get(f"/v1/models/{MODEL}/evaluations").json()["data"]
        assert {(e["id"], e["version"]) for e in listed} == {
            (first["id"], 1),
            (second["id"], 2),
        }
        assert client.get("/v1/evaluations").json()["data"][0]["id"] == second["id"]
        report = client.get(f"/v1/evaluations/{second['id']}/report")
        assert report.status_code == 200
        assert report.headers["content-type"].startswith("text/html")
        page = report.text
        for name in ("accuracy", "f1_macro", "log_loss"):
            assert f"{second['metrics'][name]:.6g}" in page
        assert page.count("<img") == 3  # confusion matrix, ROC curves, training curves
        assert "Training curves" in page and "virginica" in page


def test_promotion_gate(server: LiveServer, setup: dict[str, Any]) -> None:
    first, second = setup["evaluations"]
    f1 = {1: first["metrics"]["f1_macro"], 2: second["metrics"]["f1_macro"]}
    loss = {1: first["metrics"]["log_loss"], 2: second["metrics"]["log_loss"]}
    url = f"/v1/models/{MODEL}/aliases/production"
    with server.http() as client:
        moved = client.put(url, json={"version": 2, "require": {"metric": "f1_macro", "min": 0.9}})
        assert moved.status_code == 200, moved.text
        assert moved.json()["version"] == 2 and moved.json()["check"]["candidate"]["value"] == f1[2]
        assert served(client, f"{MODEL}@production")[0] == 2
        assert served(client, MODEL)[0] == 2  # a bare name is the production alias
        # Worse than the current holder: refused, with both numbers.
        for metric, values in (("f1_macro", f1), ("log_loss", loss)):
            refused = client.put(
                url, json={"version": 1, "require": {"metric": metric, "at_least_current": True}}
            )
            assert refused.status_code == 409, refused.text
            message = refused.json()["error"]["message"]
            assert f"{values[1]:.6g}" in message and f"{values[2]:.6g}" in message, message
        below = client.put(url, json={"version": 1, "require": {"metric": "f1_macro", "min": 0.95}})
        assert below.status_code == 409
        assert (
            f"{f1[1]:.6g}" in below.json()["error"]["message"]
            and "0.95" in (below.json()["error"]["message"])
        )
        other = client.put(
            url,
            json={"version": 1, "require": {"metric": "f1_macro", "min": 0, "file": setup["file"]}},
        )
        assert other.status_code == 409 and "POST /v1/evaluations" in other.text
        assert served(client, f"{MODEL}@production")[0] == 2
        # Without a requirement the alias just moves, and serving follows at once.
        assert client.put(url, json={"version": 1}).status_code == 200
        assert served(client, f"{MODEL}@production")[0] == 1
        assert served(client, MODEL)[0] == 1
        aliases = client.get(f"/v1/models/{MODEL}/aliases").json()["data"]
        assert [(a["alias"], a["version"]) for a in aliases] == [("production", 1)]
        assert client.delete(url).status_code == 200
        assert client.post(f"/v1/models/{MODEL}@production/predict",
                           json={"instances": [[1, 2, 3, 4]]}).status_code == 404  # fmt: skip
        assert served(client, MODEL)[0] == 2  # no alias: the newest version


def test_bad_requests_name_the_field(server: LiveServer, setup: dict[str, Any]) -> None:
    eval_file = setup["eval_file"]
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"model": "nope", "file": eval_file}, 404, "model"),
        ({"model": f"{MODEL}:9", "file": eval_file}, 404, "model"),
        ({"model": f"{MODEL}@nope", "file": eval_file}, 404, "model"),
        ({"model": MODEL, "file": "file-nope"}, 404, "file"),
        ({"model": MODEL, "file": eval_file, "target": "colour"}, 400, "target"),
        ({"model": MODEL}, 400, "file"),
    ]
    with server.http() as client:
        for body, status, param in cases:
            response = client.post("/v1/evaluations", json=body)
            assert response.status_code == status, (body, response.text)
            assert response.json()["error"]["param"] == param, (body, response.json())
        url = f"/v1/models/{MODEL}/aliases/production"
        unknown = client.put(url, json={"version": 2, "require": {"metric": "fun", "min": 1}})
        assert unknown.status_code == 400 and unknown.json()["error"]["param"] == "require.metric"
        missing = client.put(url, json={"version": 7})
        assert missing.status_code == 404 and missing.json()["error"]["param"] == "version"
        assert client.put("/v1/models/nope/aliases/x", json={"version": 1}).status_code == 404
        assert client.get("/v1/evaluations/job-nope").status_code == 404
        assert client.get("/v1/evaluations/job-nope/report").status_code == 404
        assert client.get("/v1/models/nope/evaluations").status_code == 404
        tenant = client.post("/v1/admin/tenants", json={"name": "readers"})
        assert tenant.status_code == 201
        key = client.post("/v1/admin/keys", json={"tenant": "readers", "scopes": ["models:read"]})
    with server.http(key.json()["key"]) as reader:
        body = {"model": MODEL, "file": eval_file}
        assert reader.post("/v1/evaluations", json=body).status_code == 403
        assert reader.put(url, json={"version": 1}).status_code == 403
        # Another tenant sees neither the model nor its evaluations.
        assert reader.get(f"/v1/evaluations/{setup['evaluations'][0]['id']}").status_code == 404
        assert reader.get(f"/v1/models/{MODEL}/evaluations").status_code == 404


def test_perplexity_of_a_hugging_face_model(server: LiveServer, tmp_path: Path) -> None:
    folder = tiny_causal_lm(tmp_path / "tiny-lm")
    texts = ["the cat sat on a mat", "a dog ran far", "bird sang loud and the cat ate fish"]
    with server.http() as client:
        added = client.post("/v1/admin/models", json={"name": "tiny-lm", "hf_dir": str(folder)})
        assert added.status_code == 201 and added.json()["format"] == "transformers", added.text
        corpus = "".join(json.dumps({"text": t}) + "\n" for t in texts).encode()
        file_id = upload(client, corpus, "corpus.jsonl")
        created = evaluate(client, model="tiny-lm", file=file_id)
        assert created["method"] == "perplexity"
        done = wait_evaluation(client, created["id"])
        assert done["status"] == "succeeded", done
        assert done["metrics"]["perplexity"] == pytest.approx(reference(folder, texts), rel=1e-5)
        assert f"{done['metrics']['perplexity']:.6g}" in client.get(done["report_url"]).text
        table = upload(client, iris_csv(), "table.csv")
        tabular = client.post("/v1/evaluations", json={"model": "tiny-lm", "file": table})
        assert tabular.status_code == 400 and tabular.json()["error"]["param"] == "file"
        assert "JSON lines" in tabular.json()["error"]["message"]


def test_cli_eval_prints_a_table(server: LiveServer, setup: dict[str, Any], tmp_path: Path) -> None:
    import subprocess
    import sys

    data = tmp_path / "iris.csv"
    data.write_bytes(iris_csv())
    command = [sys.executable, "-m", "aimaas", "eval", f"{MODEL}:2", "--file", str(data),
               "--url", server.url, "--api-key", server.admin_key]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    expected = setup["evaluations"][1]["metrics"]
    for name in ("accuracy", "f1_macro", "roc_auc"):
        line = next(line for line in result.stdout.splitlines() if f" {name} " in line)
        assert f"{expected[name]:.6g}" in line, result.stdout
    assert "virginica" in result.stdout and "Report: /v1/evaluations/" in result.stdout
    command[4] = "nope"
    refused = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and "404" in refused.stderr and "nope" in refused.stderr

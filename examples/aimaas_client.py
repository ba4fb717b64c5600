"""The few HTTP calls the examples make, written out so you can see the whole API.

Every example reads ``AIMAAS_URL`` (default http://127.0.0.1:8000) and ``AIMAAS_API_KEY``
(a key with the ``train`` and ``infer`` scopes; the first admin key is in
``data/admin.key``), uploads its data, trains, follows the job, and asks the trained model
for predictions.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import httpx


class Failed(SystemExit):
    """Something an example shows did not hold: exit non-zero with the reason."""

    def __init__(self, message: str) -> None:
        print(f"FAILED: {message}", file=sys.stderr)
        super().__init__(1)


def check(condition: bool, message: str) -> None:
    if not condition:
        raise Failed(message)


def client() -> httpx.Client:
    key = os.environ.get("AIMAAS_API_KEY")
    if not key:
        raise Failed("set AIMAAS_API_KEY to a key with the 'train' and 'infer' scopes")
    url = os.environ.get("AIMAAS_URL", "http://127.0.0.1:8000")
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120)


def _ok(response: httpx.Response) -> Any:
    if response.is_error:
        raise Failed(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text[:300]}"
        )
    return response.json()


def upload(http: httpx.Client, filename: str, content: bytes) -> str:
    """POST /v1/files: returns the file id."""
    files = {"file": (filename, content)}
    return str(_ok(http.post("/v1/files", files=files, data={"purpose": "training"}))["id"])


def train(http: httpx.Client, **job: Any) -> dict[str, Any]:
    """POST /v1/training/jobs, then follow its events (server-sent) until it ends."""
    created = _ok(http.post("/v1/training/jobs", json=job))
    print(f"job {created['id']}: {job['algorithm']} -> model {job['model']!r}")
    events = f"/v1/training/jobs/{created['id']}/events"
    with http.stream("GET", events, headers={"Accept": "text/event-stream"}) as stream:
        for line in stream.iter_lines():
            if not line.startswith("data: "):
                continue
            event = json.loads(line[6:])
            data = event["data"]
            if event["type"] == "epoch":
                shown = {
                    k: round(v, 4)
                    for k, v in data.items()
                    if k in ("loss", "val_loss", "val_accuracy", "val_r2")
                }
                print(f"  epoch {data['epoch']}/{data['epochs']} {shown}")
    finished = _ok(http.get(f"/v1/training/jobs/{created['id']}"))
    check(
        finished["status"] == "succeeded",
        f"job ended {finished['status']}: {finished.get('error')}",
    )
    return dict(finished)


def predict(http: httpx.Client, model: str, instances: list[Any]) -> list[dict[str, Any]]:
    """POST /v1/models/{model}/predict (KServe v1 style)."""
    body = {"instances": instances}
    return list(_ok(http.post(f"/v1/models/{model}/predict", json=body))["predictions"])


def infer(http: httpx.Client, model: str, inputs: list[dict[str, Any]]) -> dict[str, Any]:
    """POST /v2/models/{model}/infer (Open Inference Protocol): outputs by name."""
    answer = _ok(http.post(f"/v2/models/{model}/infer", json={"inputs": inputs}))
    return {output["name"]: output for output in answer["outputs"]}


def csv_bytes(columns: list[str], rows: Any) -> bytes:
    """A CSV file with a header row, as POST /v1/files takes it."""
    lines = [",".join(columns)] + [",".join(str(value) for value in row) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def jsonl_bytes(records: list[dict[str, Any]]) -> bytes:
    """JSON lines: one {"text": ..., "label": ...} object per line."""
    return "".join(json.dumps(record) + "\n" for record in records).encode()

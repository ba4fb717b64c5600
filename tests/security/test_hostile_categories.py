"""The hostile-input categories of RELIABILITY.md that the other suites leave out, against a
real server process: names and paths, numbers, v2 tensors, auth over a real HTTP parser,
jobs, and streams. (Bodies are in tests/server/test_hostile_input.py, uploads in
tests/uploads/.)

Each case is answered 4xx in under 2 s without a traceback or a server path, and /health
answers 200 after it; no request of the whole set is answered 5xx; the server process tree
grows less than 50 MB over the set.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import socket
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import psutil
import pytest
from fastapi.testclient import TestClient

from aimaas.config import load_settings
from aimaas.security.bootstrap import ensure_admin_key
from aimaas.server.app import create_app
from tests.e2e.server import LiveServer, descendants, start_server
from tests.postgres import postgres_server
from tests.security.routes import walk
from tests.uploads.model_builders import trained_files

pytestmark = pytest.mark.e2e

CHAT = "smollm2-135m-instruct"
ANSWER_S = 2.0
RSS_GROWTH_MB = 50
CSV = b"a,b,c,label\n" + b"".join(
    f"{i % 7 - 3},{i % 5 - 2},{i % 3},{'yes' if i % 7 + i % 5 > 5 else 'no'}\n".encode()
    for i in range(60)
)
V2 = {"name": "input", "shape": [1, 3], "datatype": "FP32", "data": [1.0, 2.0, 0.0]}
MESSAGES = [{"role": "user", "content": "hi"}]
# Names and paths, raw as they go on the wire in a URL path (already percent-encoded where
# that is the attack) and as JSON strings in name fields.
PATHS_RAW = {
    "traversal": quote("../../etc/passwd", safe=""),
    "traversal-literal": "..%2F..%2Fetc%2Fpasswd",
    "double-encoded": "%252e%252e%252fetc%252fpasswd",
    "backslashes": quote("..\\..\\windows\\win.ini", safe=""),
    "nul": "a%00b",
    "absolute": quote("/etc/passwd", safe=""),
    "file-uri": quote("file:///etc/passwd", safe=""),
    "dots": "..",
    "long": "n" * 10_240,
}
NAMES = [
    "../../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "%252e%252e%252fetc%252fpasswd",
    "..\\..\\windows\\win.ini",
    "a\x00b",
    "/etc/passwd",
    "file:///etc/passwd",
    "n" * 10_240,
]


@dataclass
class Hostile:
    server: LiveServer
    admin: str
    acme: str  # a key of tenant acme with every scope but admin
    globex: str  # the same for tenant globex
    refs: dict[str, str]  # acme's resources
    baseline_rss: int
    cases: Counter[str] = field(default_factory=Counter)
    slowest: float = 0.0

    def check(self, category: str, response: httpx.Response | Any, took: float) -> None:
        """One hostile case: a 4xx, fast, with no traceback or server path; /health after."""
        status = getattr(response, "status_code", getattr(response, "status", 0))
        text = response.text if hasattr(response, "text") else ""
        assert 400 <= status < 500, (category, status, text[:300])
        assert took < ANSWER_S, (category, f"{took:.2f} s")
        assert "Traceback" not in text and "root:x:0:0" not in text
        assert str(self.server.data_dir) not in text, text[:300]
        self.cases[category] += 1
        self.slowest = max(self.slowest, took)
        assert httpx.get(f"{self.server.url}/health", timeout=5).status_code == 200

    def send(self, category: str, method: str, path: str, key: str | None = None, **kw: Any) -> Any:
        with self.server.http(key or self.admin) as client:
            started = time.perf_counter()
            response = client.request(method, path, **kw)
            self.check(category, response, time.perf_counter() - started)
        return response

    def raw(self, category: str, method: str, path: str, body: Any = None, **headers: str) -> Any:
        """A request whose path goes on the wire exactly as given (httpx would normalize it)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        try:
            data = None if body is None else json.dumps(body).encode()
            send = {"Authorization": f"Bearer {self.admin}", **headers}
            if data is not None:
                send["Content-Type"] = "application/json"
            started = time.perf_counter()
            connection.request(method, path, body=data, headers=send)
            response = connection.getresponse()
            response.text = response.read().decode("utf-8", "replace")  # type: ignore[attr-defined]
            self.check(category, response, time.perf_counter() - started)
            return response
        finally:
            connection.close()

    def raw_json(self, category: str, path: str, text: str, key: str | None = None) -> Any:
        headers = {"Content-Type": "application/json"}
        return self.send(category, "POST", path, key, content=text.encode(), headers=headers)


def tree_rss(pid: int) -> int:
    """RSS of the server and its engine children; job workers come and go with their jobs
    and are left out."""
    total = 0
    for each in {pid} | descendants(pid):
        try:
            process = psutil.Process(each)
            if "aimaas.server.worker" not in process.cmdline():
                total += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


def running(server: LiveServer, model: str = CHAT) -> tuple[float, float]:
    with server.http() as client:
        text = client.get("/metrics").text
    found = {"running": 0.0, "waiting": 0.0}
    for line in text.splitlines():
        for kind, name in (("running", "running_sequences"), ("waiting", "waiting_requests")):
            if line.startswith(f'aimaas_llm_{name}{{model="{model}"}}'):
                found[kind] = float(line.rsplit(" ", 1)[1])
    return found["running"], found["waiting"]


def wait_idle(server: LiveServer, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while running(server) != (0.0, 0.0):
        assert time.monotonic() < deadline, f"slots still busy: {running(server)}"
        time.sleep(0.1)


def _ok(response: httpx.Response, *codes: int) -> Any:
    assert response.status_code in (codes or (200, 201)), response.text
    return response.json()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    env = {"AIMAAS_TRAINING__THREADS": "1", "AIMAAS_ENGINE__PARALLEL": "4"}
    with start_server(tmp_path_factory.mktemp("hostile") / "data", env=env) as server:
        with server.http() as admin:
            for tenant in ("acme", "globex"):
                _ok(admin.post("/v1/admin/tenants", json={"name": tenant}))
            scopes = ["train", "models:write", "models:read", "infer"]
            keys = {
                t: _ok(admin.post("/v1/admin/keys", json={"tenant": t, "scopes": scopes}))["key"]
                for t in ("acme", "globex")
            }
        refs: dict[str, str] = {}
        with server.http(keys["acme"]) as acme:
            form = {"purpose": "training"}
            csv = acme.post("/v1/files", data=form, files={"file": ("d.csv", CSV)})
            refs["file"] = _ok(csv)["id"]
            weights, description, _ = trained_files()
            model = {"purpose": "model"}
            w = acme.post("/v1/files", data=model, files={"file": ("m.safetensors", weights)})
            d = acme.post("/v1/files", data=model, files={"file": ("model.json", description)})
            body = {"name": "mlp", "file": _ok(w)["id"], "description_file": _ok(d)["id"]}
            _ok(acme.post("/v1/models", json=body), 201)
            refs["model"] = "mlp"
            job = {
                "model": "trained",
                "algorithm": "logistic_regression",
                "training_file": refs["file"],
                "target": "label",
            }
            refs["job"] = _ok(acme.post("/v1/training/jobs", json=job), 201)["id"]
            # Warm up what the set uses, so that the baseline holds it: the chat model,
            # the served model, a finished training job.
            chat = {"model": CHAT, "messages": MESSAGES, "max_tokens": 2}
            _ok(acme.post("/v1/chat/completions", json=chat))
            _ok(acme.post("/v2/models/mlp/infer", json={"inputs": [V2]}))
            deadline = time.monotonic() + 120
            while (trained := acme.get(f"/v1/training/jobs/{refs['job']}").json())["status"] in (
                "queued",
                "running",
            ):
                assert time.monotonic() < deadline, "the training job did not finish"
                time.sleep(0.2)
            assert trained["status"] == "succeeded", trained
        time.sleep(1)
        baseline = tree_rss(server.process.pid)
        yield Hostile(server, server.admin_key, keys["acme"], keys["globex"], refs, baseline)


# --- names and paths ---------------------------------------------------------------------------


def test_names_and_paths_in_every_path_parameter(hostile: Hostile, tmp_path: Path) -> None:
    routes = [r for r in walk(create_app(load_settings(data_dir=tmp_path))) if "{" in r.path]
    assert len(routes) >= 20
    bodies = {"PUT": {"version": 1}, "POST": {"inputs": [V2], "instances": [[1, 2, 0]]}}
    for route in routes:
        for name, value in PATHS_RAW.items():
            path = "/".join(value if p.startswith("{") else p for p in route.path.split("/"))
            body = bodies.get(route.method)
            if route.path.endswith("/predict"):
                body = {"instances": [[1, 2, 0]]}
            elif route.path.endswith("/infer"):
                body = {"inputs": [V2]}
            elif route.path.endswith(("/cancel", "/limits")):
                body = {} if route.method == "PUT" else None
            hostile.raw(f"path:{name}", route.method, path, body)


def test_names_and_paths_in_name_fields(hostile: Hostile) -> None:
    send_names_in_fields(hostile)


def send_names_in_fields(hostile: Hostile) -> None:
    for name in NAMES:
        named = {
            "/v1/admin/tenants": {"name": name},
            "/v1/admin/keys": {"tenant": name, "scopes": ["infer"]},
            "/v1/admin/models": {"name": "fine", "gguf": name},
            "/v1/training/jobs": {
                "model": name,
                "algorithm": "logistic_regression",
                "training_file": hostile.refs["file"],
                "target": "label",
            },
            "/v1/models": {"name": name, "file": hostile.refs["file"]},
            "/v1/evaluations": {"model": name, "file": hostile.refs["file"]},
            "/v1/optimizations": {"model": name, "method": "prune"},
            "/v1/chat/completions": {"model": name, "messages": MESSAGES, "max_tokens": 1},
            "/v1/embeddings": {"model": name, "input": "hi"},
        }
        for path, body in named.items():
            hostile.send("name-field", "POST", path, json=body)
        # A key's name is a label, never a path: a traversal string is kept as it is; a NUL
        # or 10 KB is refused.
        keyed = {"tenant": "acme", "scopes": ["infer"], "name": name}
        if "\x00" in name or len(name) > 128:
            hostile.send("name-field", "POST", "/v1/admin/keys", json=keyed)
        else:
            with hostile.server.http() as client:
                assert _ok(client.post("/v1/admin/keys", json=keyed))["name"] == name
        hostile.send(
            "name-field",
            "POST",
            "/v1/training/jobs",
            hostile.acme,
            json={**named["/v1/training/jobs"], "model": "ok", "target": name},
        )
    # A real file on the server's disk that is not a model: refused, its bytes never shown.
    for path in ("/etc/passwd", "/proc/self/environ", "/dev/zero", "/"):
        hostile.send("name-field", "POST", "/v1/admin/models", json={"name": "m", "gguf": path})


# --- numbers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "patch",
    [
        {"max_tokens": 1e20},
        {"max_tokens": 2**64},
        {"max_tokens": 4.5},
        {"max_tokens": "4"},
        {"max_tokens": True},
        {"n": True},
        {"n": -1},
        {"temperature": "0.5"},
        {"temperature": True},
        {"temperature": 1e20},
        {"top_p": 0},
        {"top_k": -1},
        {"seed": 2**63},
        {"seed": "7"},
        {"presence_penalty": -1e20},
        {"logit_bias": {"1": 1e20}},
        {"stream": "yes"},
        {"max_completion_tokens": 0},
        {"top_logprobs": 10**6},
    ],
    ids=lambda patch: "-".join(f"{k}={v!r}"[:24] for k, v in patch.items()),
)
def test_numbers_in_generation_requests(hostile: Hostile, patch: dict[str, Any]) -> None:
    body = {"model": CHAT, "messages": MESSAGES, "max_tokens": 2} | patch
    response = hostile.send("numbers", "POST", "/v1/chat/completions", hostile.acme, json=body)
    param = response.json()["error"]["param"]
    assert param in (*patch, "body") or param.split(".")[0] in patch, response.text
    completion = {"model": CHAT, "prompt": "hi", "max_tokens": 2} | patch
    completion.pop("max_completion_tokens", None)
    completion.pop("top_logprobs", None)
    if len(completion) > 3 or set(patch) <= {"max_tokens"}:
        hostile.send("numbers", "POST", "/v1/completions", hostile.acme, json=completion)


def test_nan_and_infinity_wherever_a_float_is_read(hostile: Hostile) -> None:
    send_nan_and_infinity(hostile)


def send_nan_and_infinity(hostile: Hostile) -> None:
    chat = '{"model": "%s", "messages": [{"role": "user", "content": "hi"}], "%s": %s}'
    for name in ("temperature", "top_p", "presence_penalty", "frequency_penalty", "min_p"):
        for value in ("NaN", "Infinity", "-Infinity", "1e999"):
            hostile.raw_json("nan", "/v1/chat/completions", chat % (CHAT, name, value))
    job = '{"model": "m", "algorithm": "mlp", "training_file": "%s", "target": "label", %s}'
    for field_ in ('"validation_split": NaN', '"hyperparameters": {"learning_rate": Infinity}'):
        hostile.raw_json("nan", "/v1/training/jobs", job % (hostile.refs["file"], field_))
    limits = '{"requests_per_minute": NaN}'
    with hostile.server.http() as client:
        started = time.perf_counter()
        response = client.put(
            "/v1/admin/tenants/acme/limits",
            content=limits,
            headers={"Content-Type": "application/json"},
        )
        hostile.check("nan", response, time.perf_counter() - started)
    predict = '{"instances": [{"a": NaN, "b": 1, "c": 0}]}'
    hostile.raw_json("nan", "/v1/models/mlp/predict", predict, hostile.acme)


def test_numbers_in_jobs_queries_and_limits(hostile: Hostile) -> None:
    base = {
        "model": "m",
        "algorithm": "mlp",
        "training_file": hostile.refs["file"],
        "target": "label",
    }
    for patch in (
        {"hyperparameters": {"epochs": 1e20}},
        {"hyperparameters": {"epochs": "10"}},
        {"hyperparameters": {"batch_size": -1}},
        {"hyperparameters": {"learning_rate": -1}},
        {"validation_split": 1.5},
        {"seed": -1},
        {"seed": 2**63},
    ):
        hostile.send("numbers", "POST", "/v1/training/jobs", hostile.acme, json=base | patch)
    for path in ("/v1/files", "/v1/training/jobs", "/v1/evaluations", "/v1/optimizations"):
        for limit in ("0", "-1", "1e20", "NaN", str(2**63), "true", ""):
            hostile.send("numbers", "GET", f"{path}?limit={limit}", hostile.acme)
    for value in (-1, 2**63, 1e20, True, "5"):
        body = {"requests_per_minute": value}
        hostile.send("numbers", "PUT", "/v1/admin/tenants/acme/limits", json=body)
    # Values that overflow float32 once they reach the model (they did: NaN probabilities).
    row = {"instances": [{"a": 1e308, "b": 1.0, "c": 0.0}]}
    response = hostile.send("numbers", "POST", "/v1/models/mlp/predict", hostile.acme, json=row)
    assert response.json()["error"]["param"] == "instances[0]"
    big = {"inputs": [{**V2, "data": [1e300, 0.0, 0.0]}]}
    response = hostile.send("numbers", "POST", "/v2/models/mlp/infer", hostile.acme, json=big)
    assert "'input'" in response.json()["error"]


# --- tensors (v2) ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "inputs",
    [
        [{**V2, "shape": [-1, 3]}],
        [{**V2, "shape": [1, 0], "data": []}],
        [{**V2, "shape": [0, 0], "data": []}],
        [{**V2, "shape": [2**31, 2**31, 2**31]}],
        [{**V2, "shape": [2**31] * 16}],
        [{**V2, "shape": [2**31] * 17}],
        [{**V2, "shape": [2**63, 3]}],
        [{**V2, "shape": [1, 3.5]}],
        [{**V2, "shape": ["1", "3"]}],
        [{**V2, "shape": []}],
        [{**V2, "data": [1.0, 2.0]}],
        [{**V2, "data": [1.0, 2.0, 0.0, 4.0]}],
        [{**V2, "datatype": "FP128"}],
        [{**V2, "datatype": "fp32"}],
        [{**V2, "datatype": ""}],
        [{**V2, "datatype": "BYTES", "data": ["a", "b", "c"]}],
        [{**V2, "data": ["NaN", 0.0, 0.0]}],
        [{**V2, "data": ["Infinity", 0.0, 0.0]}],
        [{**V2, "data": [None, 0.0, 0.0]}],
        [{**V2, "data": [[1.0, 2.0], [0.0]]}],
        [{**V2, "data": [{"x": 1}, 0.0, 0.0]}],
        [V2, V2],
        [V2, {**V2, "name": "other"}],
        [],
        [V2] * 65,
    ],
    ids=lambda inputs: json.dumps(inputs)[:40],
)
def test_v2_tensors(hostile: Hostile, inputs: list[Any]) -> None:
    hostile.send("tensors", "POST", "/v2/models/mlp/infer", hostile.acme, json={"inputs": inputs})


def test_v2_nan_and_infinity_data(hostile: Hostile) -> None:
    for value in ("NaN", "Infinity", "-Infinity", "1e999"):
        text = json.dumps({"inputs": [V2]}).replace("1.0", value, 1)
        hostile.raw_json("tensors", "/v2/models/mlp/infer", text, hostile.acme)


def test_v2_zero_rows_is_an_empty_answer(hostile: Hostile) -> None:
    """A batch of no rows is valid in the protocol: an empty answer, not an error."""
    body = {"inputs": [{**V2, "shape": [0, 3], "data": []}]}
    with hostile.server.http(hostile.acme) as client:
        response = client.post("/v2/models/mlp/infer", json=body)
    assert response.status_code == 200, response.text
    assert all(output["data"] == [] for output in response.json()["outputs"])


# --- auth, over a real HTTP parser ------------------------------------------------------------


def test_auth(hostile: Hostile) -> None:
    for token in (
        "' OR 1=1 --",
        "sk-aimaas-' OR '1'='1",
        "sk-aimaas-x'; DROP TABLE api_keys; --",
        "sk-aimaas-" + "a" * 65_536,
        "sk-aimaas-\u00e9\u00e9",
        "sk-aimaas-" + "%00" * 8,
    ):
        header = f"Bearer {token}".encode("latin-1", "replace").decode("latin-1")
        hostile.raw("auth", "GET", "/v1/models", Authorization=header)
    with hostile.server.http() as admin:
        soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
        created = {"tenant": "acme", "scopes": ["models:read"], "expires_at": soon}
        expiring = _ok(admin.post("/v1/admin/keys", json=created))["key"]
        revoked = _ok(admin.post("/v1/admin/keys", json={"tenant": "acme"}))
        _ok(admin.delete(f"/v1/admin/keys/{revoked['id']}"))
    hostile.send("auth", "GET", "/v1/models", revoked["key"])
    time.sleep(1.2)
    hostile.send("auth", "GET", "/v1/models", expiring)
    hostile.send("auth", "GET", f"/v1/files/{hostile.refs['file']}", hostile.globex)
    # Two Authorization headers (http.client sends both as given).
    connection = http.client.HTTPConnection("127.0.0.1", hostile.server.port, timeout=10)
    try:
        started = time.perf_counter()
        connection.putrequest("GET", "/v1/models")
        connection.putheader("Authorization", f"Bearer {hostile.admin}")
        connection.putheader("Authorization", f"Bearer {hostile.globex}")
        connection.endheaders()
        response = connection.getresponse()
        response.text = response.read().decode()  # type: ignore[attr-defined]
        hostile.check("auth", response, time.perf_counter() - started)
        assert response.status == 400
    finally:
        connection.close()


def test_nul_characters_are_400_on_postgres(settings_on_postgres: Any) -> None:
    """PostgreSQL cannot hold or compare a NUL: every query with one failed, a 500 on every
    route; now the request is refused first, whatever the database."""
    client, admin = settings_on_postgres
    auth = {"Authorization": f"Bearer {admin}"}
    bodies = {
        "/v1/admin/tenants": {"name": "a\x00b"},
        "/v1/admin/keys": {"tenant": "admin", "name": "a\x00b"},
        "/v1/chat/completions": {"model": "m\x00", "messages": MESSAGES},
        "/v1/training/jobs": {"model": "m", "algorithm": "mlp", "training_file": "f\x00"},
        "/v1/evaluations": {"model": "m", "file": "f\x00"},
        "/v1/models": {"name": "m", "file": "f\x00"},
    }
    for path, body in bodies.items():
        response = client.post(path, json=body, headers=auth)
        assert response.status_code == 400, (path, response.text)
    for path in (
        "/v1/files/f%00",
        "/v2/models/m%00",
        "/v1/usage?tenant=t%00",
        "/v1/files?after=%00",
    ):
        response = client.get(path, headers=auth)
        assert response.status_code == 400, (path, response.text)
        assert "NUL" in str(response.json()["error"])


@pytest.fixture
def settings_on_postgres(tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    with postgres_server() as url:
        config = load_settings(data_dir=tmp_path / "data")
        config.database.url = url
        config.engine.default_models = False
        config.server.allowed_hosts.append("testserver")
        app = create_app(config)
        with TestClient(app, raise_server_exceptions=False) as client:
            admin = ensure_admin_key(app.state.services.db, config.storage.admin_key_file)
            assert admin is not None
            yield client, admin


# --- jobs ---------------------------------------------------------------------------------------


def test_jobs(hostile: Hostile) -> None:
    job = hostile.refs["job"]
    body = {
        "model": "stolen",
        "algorithm": "logistic_regression",
        "training_file": hostile.refs["file"],
        "target": "label",
    }
    missing = hostile.send("jobs", "POST", "/v1/training/jobs", hostile.globex, json=body)
    assert missing.status_code == 404  # another tenant's dataset: as if it did not exist
    hostile.send("jobs", "POST", f"/v1/training/jobs/{job}/cancel", hostile.globex)
    with hostile.server.http(hostile.acme) as client:
        for _ in range(2):  # cancelling a finished job is a no-op that says so: still done
            started = time.perf_counter()
            again = client.post(f"/v1/training/jobs/{job}/cancel")
            assert again.status_code == 200 and again.json()["status"] == "succeeded"
            assert time.perf_counter() - started < ANSWER_S
        assert client.get(f"/v1/training/jobs/{job}").json()["status"] == "succeeded"
    # Nor can one be resumed: there is no such route.
    hostile.send("jobs", "POST", f"/v1/training/jobs/{job}/resume", hostile.acme)
    hostile.send("jobs", "POST", f"/v1/optimizations/{job}/cancel", hostile.acme)


def test_200_job_submissions_at_once_are_bounded(hostile: Hostile) -> None:
    body = {
        "model": "burst",
        "algorithm": "logistic_regression",
        "training_file": hostile.refs["file"],
        "target": "label",
    }
    workers: list[int] = []

    def submit(_: int) -> httpx.Response:
        with hostile.server.http(hostile.acme) as client:
            return client.post("/v1/training/jobs", json=body)

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(submit, range(200)))
        workers.append(len(descendants(hostile.server.process.pid)))
    took = time.perf_counter() - started
    statuses = Counter(r.status_code for r in answers)
    assert set(statuses) <= {201, 429}, statuses
    ids = [r.json()["id"] for r in answers if r.status_code == 201]
    with hostile.server.http(hostile.acme) as client:
        for _ in range(5):  # at most training.workers (1) job runs at once
            jobs = client.get("/v1/training/jobs", params={"limit": 1000}).json()["data"]
            assert sum(j["status"] == "running" for j in jobs) <= 1
            time.sleep(0.1)
        for job_id in ids:  # the queue is emptied for the rest of the set
            assert client.post(f"/v1/training/jobs/{job_id}/cancel").status_code in (200, 409)
    assert httpx.get(f"{hostile.server.url}/health", timeout=5).status_code == 200
    hostile.cases["jobs: 200 at once"] += len(answers)
    print(f"\n200 job submissions at once: {dict(statuses)} in {took:.1f} s")


# --- streams ------------------------------------------------------------------------------------


def _stream_request(hostile: Hostile, max_tokens: int) -> bytes:
    body = json.dumps(
        {"model": CHAT, "messages": MESSAGES, "max_tokens": max_tokens, "stream": True}
    ).encode()
    return (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + f"Authorization: Bearer {hostile.acme}\r\n".encode()
        + b"Content-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


def test_a_client_that_never_reads(hostile: Hostile) -> None:
    silent = [socket.create_connection(("127.0.0.1", hostile.server.port)) for _ in range(3)]
    try:
        for sock in silent:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.sendall(_stream_request(hostile, 400))
        time.sleep(1.0)
        # Others are served meanwhile: health at once, a chat completion in its own time.
        started = time.perf_counter()
        assert httpx.get(f"{hostile.server.url}/health", timeout=5).status_code == 200
        assert time.perf_counter() - started < ANSWER_S
        with hostile.server.http(hostile.acme) as client:
            chat = {"model": CHAT, "messages": MESSAGES, "max_tokens": 4}
            assert client.post("/v1/chat/completions", json=chat, timeout=60).status_code == 200
    finally:
        for sock in silent:
            sock.close()
    wait_idle(hostile.server)
    hostile.cases["streams"] += len(silent)


def test_clients_that_disconnect_before_the_first_token(hostile: Hostile) -> None:
    disconnect_before_the_first_token(hostile)


def disconnect_before_the_first_token(hostile: Hostile) -> None:
    for _ in range(10):
        sock = socket.create_connection(("127.0.0.1", hostile.server.port))
        sock.sendall(_stream_request(hostile, 200))
        sock.close()
    for _ in range(5):  # and ones that read the headers, then go
        sock = socket.create_connection(("127.0.0.1", hostile.server.port))
        sock.sendall(_stream_request(hostile, 200))
        assert sock.recv(12).startswith(b"HTTP/1.1 200")
        sock.close()
    wait_idle(hostile.server)
    assert httpx.get(f"{hostile.server.url}/health", timeout=5).status_code == 200
    hostile.cases["streams"] += 15


# --- the whole set ------------------------------------------------------------------------------


def test_no_5xx_and_the_memory_stays(hostile: Hostile) -> None:
    """Whatever ran before it (alone, or last in the file): after a set of its own (names in
    every name field, NaN wherever a float is read, streams cut before the first token), no
    request of the server's life was answered 5xx and the tree kept its memory."""
    send_names_in_fields(hostile)
    send_nan_and_infinity(hostile)
    disconnect_before_the_first_token(hostile)
    with hostile.server.http() as client:
        metrics = client.get("/metrics").text
    served = [
        line for line in metrics.splitlines() if line.startswith("aimaas_http_requests_total")
    ]
    assert served and not [line for line in served if 'status="5' in line]
    assert "Traceback" not in hostile.server.log()
    time.sleep(1)
    growth = (tree_rss(hostile.server.process.pid) - hostile.baseline_rss) / 2**20
    print(
        f"\nhostile categories: {sum(hostile.cases.values())} cases {dict(hostile.cases)}; "
        f"slowest answer {hostile.slowest * 1000:.0f} ms; RSS growth {growth:+.1f} MB"
    )
    assert growth < RSS_GROWTH_MB, f"the server tree grew {growth:.0f} MB"
    assert hostile.server.process.poll() is None

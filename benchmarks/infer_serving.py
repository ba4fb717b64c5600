"""Trained-model serving benchmark: Open Inference Protocol v2 ``infer`` throughput and latency
of aimaas against LitServe, Ray Serve and a bare FastAPI route, on the same weights, on this
machine, in one run.

Two models are trained through aimaas's own API (``POST /v1/files``, ``POST
/v1/training/jobs``, poll until ``succeeded``): a logistic regression on scikit-learn's
breast_cancer table (30 features, uploaded as CSV) and the digits CNN (8x8 grey images,
uploaded as a zip of one PNG folder per class). aimaas serves them at once; its artifacts
(``model.safetensors`` + ``model.json``, found through the registry) are then loaded by each
peer with ``aimaas.learn.artifacts.load_predictor`` and served under the same path and JSON
shape:

- ``litserve``: LitServe, its batching on (``max_batch_size=32``, ``batch_timeout=0.005``);
- ``ray-serve``: Ray Serve, ``@serve.batch(max_batch_size=32, batch_wait_timeout_s=0.005)``;
- ``fastapi``: one FastAPI route under uvicorn that runs the predictor per request (no
  batching, no auth, no metering), in the aimaas venv: the same HTTP stack as aimaas, the
  ceiling for it;
- ``fastapi-uvloop``: the same route in the peers' venv, where uvicorn finds uvloop and
  httptools (what LitServe and Ray Serve run on).

Each server is started on 127.0.0.1 as a subprocess in its own process group, serving both
models on one port, and stopped by its pid (SIGTERM, then SIGKILL, then anything it left
behind) whatever happens; only one runs at a time (LitServe's idle worker alone polls away a
third of a core). Each repeat is a round in which every server is started, measured at every
level and stopped, in an order that rotates from round to round: on a shared machine
whatever else runs then falls on all of them alike; the tables show the medians over rounds.
The client is raw HTTP/1.1 over asyncio streams (one keep-alive connection per worker,
request bytes built beforehand); its CPU seconds per run are reported.

Peers live in a venv outside the repository (``~/.cache/aimaas-bench/serve-venv``) that sees
the aimaas venv's packages (torch, numpy, aimaas) through a ``.pth`` file and adds only
LitServe and Ray Serve, pinned.

    .venv/bin/python benchmarks/infer_serving.py [--servers aimaas,litserve,ray-serve,fastapi]
        [--models logreg,cnn] [--concurrency 1,8,32] [--requests 1500] [--repeats 3]

See benchmarks/README.md for what is measured and how.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import itertools
import json
import os
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (
    CACHE_ENV,
    DEFAULT_CACHE,
    HOST,
    MAIN_PYTHON,
    REPO_ROOT,
    TORCH_PIN,
    Unavailable,
    client_cpu_seconds,
    descendants,
    env_for_aimaas,
    fmt,
    free_port,
    host_info,
    http_json,
    log_tail,
    machine_busy_seconds,
    median_of,
    ms,
    multipart,
    percentile,
    process_cpu_seconds,
    purelib,
    raise_on_sigterm,
    ratio,
    render_table,
    run_logged,
    start_process,
    stop_process_tree,
    venv_ok,
    wait_for_quiet,
)

SERVE_VENV = "serve-venv"
SERVE_VENV_PYTHON = "python3.11"
PEER_PINS = ("litserve==0.2.19", "ray[serve]==2.60.0")
VENV_TIMEOUT_S = 1800

ALL_SERVERS = ("aimaas", "litserve", "ray-serve", "fastapi", "fastapi-uvloop")
DEFAULT_SERVERS = ALL_SERVERS
BATCHING_PEERS = ("litserve", "ray-serve")
ALL_MODELS = ("logreg", "cnn")
MAX_BATCH = 32
BATCH_TIMEOUT_S = 0.005
READY_TIMEOUT_S = 240.0
TRAIN_TIMEOUT_S = 900.0
QUIET_SAMPLE_S = 1.5


# ---------------------------------------------------------------------------------------------
# Data: the two training sets and the rows the clients send


@dataclass
class ModelCase:
    name: str  # the model's name in aimaas and the path every server answers on
    algorithm: str
    upload_name: str
    upload: Callable[[], bytes]
    target: str | None
    hyperparameters: dict[str, Any]
    rows: Callable[[], list[list[float] | list[int]]]  # one request's data each (flat)


def breast_cancer_csv() -> bytes:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    out = io.StringIO()
    out.write(",".join([*(n.replace(" ", "_") for n in data.feature_names), "diagnosis"]) + "\n")
    for row, label in zip(data.data, data.target, strict=True):
        out.write(",".join(repr(float(v)) for v in row) + f",{data.target_names[label]}\n")
    return out.getvalue().encode()


def breast_cancer_rows() -> list[list[float] | list[int]]:
    from sklearn.datasets import load_breast_cancer

    return [[float(v) for v in row] for row in load_breast_cancer().data]


def digits_pixels() -> Any:
    import numpy as np
    from sklearn.datasets import load_digits

    data = load_digits()
    return np.round(data.images * 255 / 16).astype(np.uint8), data.target


def digits_zip() -> bytes:
    """One folder per class of 8x8 grey PNGs (load_digits, 0..16 scaled to 0..255)."""
    from PIL import Image

    pixels, labels = digits_pixels()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for index, (image, label) in enumerate(zip(pixels, labels, strict=True)):
            png = io.BytesIO()
            Image.fromarray(image).save(png, format="PNG")  # uint8 2-D: mode L
            archive.writestr(f"{label}/{index:04d}.png", png.getvalue())
    return buffer.getvalue()


def digits_rows() -> list[list[float] | list[int]]:
    pixels, _ = digits_pixels()
    return [[int(v) for v in image.ravel()] for image in pixels]


MODEL_CASES: dict[str, ModelCase] = {
    "logreg": ModelCase(
        "logreg",
        "logistic_regression",
        "breast_cancer.csv",
        breast_cancer_csv,
        "diagnosis",
        {},
        breast_cancer_rows,
    ),
    "cnn": ModelCase("cnn", "cnn", "digits.zip", digits_zip, None, {"epochs": 5}, digits_rows),
}


# ---------------------------------------------------------------------------------------------
# Servers


class Server:
    """A server subprocess in its own process group; ``stop`` ends it and everything below it."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        print(f"  starting {name}: {shlex.join(argv)}  (log: {log_path})", flush=True)
        self.process = start_process(argv, env, log_path)
        self.pid = self.process.pid

    def pids(self) -> set[int]:
        return {self.pid} | descendants(self.pid)

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        stop_process_tree(self.process)  # also children that left the group (Ray's)


@contextlib.contextmanager
def running(name: str, argv: list[str], env: dict[str, str], log_path: Path) -> Iterator[Server]:
    server = Server(name, argv, env, log_path)
    try:
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------------
# The peers' venv


def ensure_serve_venv(cache: Path) -> Path:
    """``python3.11 -m venv``, a ``.pth`` onto the aimaas venv's site-packages (torch, numpy,
    aimaas come from there), then only the pinned LitServe and Ray Serve."""
    venv = cache / SERVE_VENV
    python = venv / "bin" / "python"
    log = cache / "logs" / "serve-venv.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    if not python.exists():
        interpreter = shutil.which(SERVE_VENV_PYTHON) or str(MAIN_PYTHON)
        run_logged([interpreter, "-m", "venv", venv], log, timeout_s=VENV_TIMEOUT_S)
    pth = Path(purelib(python)) / "aimaas_main_venv.pth"
    # The editable aimaas install is a .pth of its own, which a .pth line does not run: the
    # repository root goes in too.
    pth.write_text(f"{purelib(MAIN_PYTHON)}\n{REPO_ROOT}\n")
    if venv_ok(python, "litserve, ray.serve, aimaas.learn.artifacts, torch", 300):
        installed = subprocess.run(
            [str(python), "-m", "pip", "freeze"], capture_output=True, text=True, timeout=120
        ).stdout
        if all(pin.replace("[serve]", "") in installed for pin in PEER_PINS):
            return python
    constraints = venv / "constraints.txt"
    constraints.write_text(TORCH_PIN + "\n")
    run_logged(
        [python, "-m", "pip", "install", "-c", constraints, *PEER_PINS],
        log,
        timeout_s=VENV_TIMEOUT_S,
    )
    return python


def serve_venv_versions(python: Path) -> str:
    code = (
        "import importlib.metadata as m; print(', '.join(f'{p} {m.version(p)}' for p in "
        "('litserve', 'ray', 'uvicorn', 'uvloop', 'httptools', 'torch')))"
    )
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=60)
    return out.stdout.strip() or out.stderr.strip()[-200:]


# ---------------------------------------------------------------------------------------------
# aimaas: train through the API, then serve


def wait_health(server: Server, port: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not server.alive():
            raise Unavailable(f"{server.name} exited:\n{log_tail(server.log_path, 20)}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=1) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.2)
    raise Unavailable(f"{server.name} did not answer /health in {timeout_s:.0f}s")


@dataclass
class TrainedCase:
    case: ModelCase
    artifacts: Path  # model.safetensors + model.json
    input_name: str
    input_shape: list[int]
    datatype: str
    job_seconds: float


def train_in_aimaas(url: str, key: str, case: ModelCase, data_dir: Path, out: Path) -> TrainedCase:
    body, content_type = multipart(case.upload_name, case.upload(), {"purpose": "training"})
    status, file = http_json("POST", f"{url}/v1/files", key, raw=body, content_type=content_type)
    if status not in (200, 201):
        raise Unavailable(f"upload of {case.upload_name} answered {status}: {file}")
    job_body: dict[str, Any] = {
        "model": case.name,
        "algorithm": case.algorithm,
        "training_file": file["id"],
        "seed": 0,
        "hyperparameters": case.hyperparameters,
    }
    if case.target:
        job_body["target"] = case.target
    started = time.monotonic()
    status, job = http_json("POST", f"{url}/v1/training/jobs", key, job_body)
    if status != 201:
        raise Unavailable(f"training job for {case.name} answered {status}: {job}")
    deadline = started + TRAIN_TIMEOUT_S
    while time.monotonic() < deadline:
        _, job = http_json("GET", f"{url}/v1/training/jobs/{job['id']}", key)
        if job["status"] in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.25)
    if job["status"] != "succeeded":
        raise Unavailable(f"training {case.name} ended {job['status']}: {job.get('error')}")
    took = time.monotonic() - started
    print(f"    trained {case.name} ({case.algorithm}) in {took:.1f}s: {job.get('metrics')}")
    with sqlite3.connect(data_dir / "aimaas.db") as db:
        row = db.execute(
            "SELECT v.details FROM model_versions v JOIN models m ON m.id = v.model_id "
            "WHERE m.name = ? ORDER BY v.version DESC",
            (case.name,),
        ).fetchone()
    details = json.loads(row[0]) if isinstance(row[0], str) else row[0]
    folder = out / case.name
    folder.mkdir(parents=True, exist_ok=True)
    for filename, digest in details["files"].items():
        source = data_dir / "artifacts" / "sha256" / digest[:2] / digest
        shutil.copyfile(source, folder / filename)
    status, meta = http_json("GET", f"{url}/v2/models/{case.name}", key)
    if status != 200:
        raise Unavailable(f"v2 metadata of {case.name} answered {status}: {meta}")
    spec = meta["inputs"][0]
    return TrainedCase(case, folder, spec["name"], spec["shape"], spec["datatype"], took)


# ---------------------------------------------------------------------------------------------
# Peer servers (run in the peers' venv, or the aimaas venv for ``fastapi``)


def _load(artifacts: Path) -> Any:
    from aimaas.learn.artifacts import load_predictor

    return load_predictor(
        (artifacts / "model.safetensors").read_bytes(), (artifacts / "model.json").read_bytes()
    )


def _decode_v2(predictor: Any, body: dict[str, Any]) -> list[Any]:
    """A v2 request's input tensors to the predictor's items (as aimaas's checks would pass)."""
    import numpy as np

    numpy_types = {"FP32": np.float32, "FP64": np.float64, "INT32": np.int32, "INT64": np.int64}
    arrays = {}
    for tensor in body["inputs"]:
        dtype = numpy_types.get(tensor["datatype"], object)
        arrays[tensor["name"]] = np.asarray(tensor["data"], dtype=dtype).reshape(tensor["shape"])
    return list(predictor.prepare_v2(arrays))


def _encode_v2(predictor: Any, name: str, request_id: Any, outputs: list[Any]) -> dict[str, Any]:
    import numpy as np

    tensors = []
    for spec in predictor.signature.outputs:
        array = np.stack([np.asarray(output[spec.name]) for output in outputs])
        data = array.astype(str) if spec.datatype == "BYTES" else array
        tensors.append(
            {
                "name": spec.name,
                "shape": list(array.shape),
                "datatype": spec.datatype,
                "data": data.ravel().tolist(),
            }
        )
    return {"model_name": name, "model_version": "1", "id": request_id, "outputs": tensors}


def _split(outputs: list[Any], sizes: list[int]) -> list[list[Any]]:
    out, start = [], 0
    for size in sizes:
        out.append(outputs[start : start + size])
        start += size
    return out


def _split_pairs(predictor: Any, batch: list[tuple[Any, list[Any]]]) -> list[tuple[Any, Any]]:
    flat = [item for _, items in batch for item in items]
    outputs = _split(predictor.run(flat), [len(items) for _, items in batch])
    return [(rid, out) for (rid, _), out in zip(batch, outputs, strict=True)]


try:  # only in the peers' venv; LitServe pickles the API into its worker, so it lives here
    import litserve as _litserve
except ImportError:
    _litserve = None

if _litserve is not None:

    class V2LitAPI(_litserve.LitAPI):  # type: ignore[misc,name-defined]
        """v2 infer for one model: a request's rows are one item of LitServe's batch."""

        def __init__(self, name: str, artifacts: Path) -> None:
            super().__init__(
                max_batch_size=MAX_BATCH,
                batch_timeout=BATCH_TIMEOUT_S,
                api_path=f"/v2/models/{name}/infer",
            )
            self.model_name, self.artifacts = name, artifacts

        def setup(self, device: str) -> None:
            self.predictor = _load(self.artifacts)

        # No annotations on these two: LitServe reads them to build its route, and under
        # ``from __future__ import annotations`` they would be strings it cannot resolve.
        def decode_request(self, request):  # type: ignore[no-untyped-def]
            return request.get("id"), _decode_v2(self.predictor, request)

        def batch(self, inputs: list[tuple[Any, list[Any]]]) -> list[tuple[Any, list[Any]]]:
            return inputs

        def predict(self, batch: list[tuple[Any, list[Any]]]) -> list[tuple[Any, Any]]:
            return _split_pairs(self.predictor, batch)

        def unbatch(self, output: list[Any]) -> list[Any]:
            return output

        def encode_response(self, output):  # type: ignore[no-untyped-def]
            return _encode_v2(self.predictor, self.model_name, output[0], output[1])


def serve_litserve(models: dict[str, Path], port: int) -> None:
    import litserve as ls

    apis = [V2LitAPI(name, artifacts) for name, artifacts in models.items()]
    server = ls.LitServer(apis, accelerator="cpu", workers_per_device=1, timeout=60)
    server.run(host=HOST, port=port, log_level="warning", generate_client_file=False)


def serve_ray(models: dict[str, Path], port: int) -> None:
    import ray
    from ray import serve
    from starlette.requests import Request

    ray.init(
        address="local",
        num_cpus=os.cpu_count(),
        include_dashboard=False,
        object_store_memory=256 * 1024 * 1024,
        log_to_driver=False,
    )
    serve.start(http_options={"host": HOST, "port": port})

    # Ray's default max_ongoing_requests (5) would cap every batch at 5 requests; its docs
    # say to raise it above max_batch_size when batching.
    @serve.deployment(num_replicas=1, max_ongoing_requests=4 * MAX_BATCH)
    class V2Deployment:
        def __init__(self, name: str, artifacts: str) -> None:
            self.name = name
            self.predictor = _load(Path(artifacts))

        @serve.batch(max_batch_size=MAX_BATCH, batch_wait_timeout_s=BATCH_TIMEOUT_S)
        async def run(self, batch: list[list[Any]]) -> list[list[Any]]:
            flat = [item for items in batch for item in items]
            return _split(self.predictor.run(flat), [len(items) for items in batch])

        async def __call__(self, request: Request) -> dict[str, Any]:
            body = await request.json()
            outputs = await self.run(_decode_v2(self.predictor, body))
            return _encode_v2(self.predictor, self.name, body.get("id"), outputs)

    for name, artifacts in models.items():
        app = V2Deployment.options(name=f"v2-{name}").bind(name, str(artifacts))
        serve.run(app, name=name, route_prefix=f"/v2/models/{name}/infer")
    print("ray serve ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass
    serve.shutdown()
    ray.shutdown()


def serve_fastapi(models: dict[str, Path], port: int) -> None:
    import uvicorn
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    app = FastAPI()

    def route(name: str, predictor: Any) -> None:
        async def infer(request: Request) -> JSONResponse:
            body = await request.json()
            outputs = predictor.run(_decode_v2(predictor, body))
            return JSONResponse(_encode_v2(predictor, name, body.get("id"), outputs))

        # The annotations are strings here (``from __future__ import annotations``) naming a
        # local import; FastAPI needs the class itself to inject the request.
        infer.__annotations__ = {"request": Request, "return": JSONResponse}
        app.post(f"/v2/models/{name}/infer")(infer)

    for name, artifacts in models.items():
        route(name, _load(artifacts))
    uvicorn.run(app, host=HOST, port=port, log_level="warning", access_log=False)


PEER_SERVERS: dict[str, Callable[[dict[str, Path], int], None]] = {
    "litserve": serve_litserve,
    "ray-serve": serve_ray,
    "fastapi": serve_fastapi,
    "fastapi-uvloop": serve_fastapi,
}


# ---------------------------------------------------------------------------------------------
# The client: raw HTTP/1.1 over asyncio streams


@dataclass
class Target:
    port: int
    path: str
    key: str | None
    bodies: list[bytes]  # request bodies, sent in turn

    def requests(self) -> list[bytes]:
        head = [f"POST {self.path} HTTP/1.1", f"Host: {HOST}:{self.port}"]
        head.append("Content-Type: application/json")
        if self.key:
            head.append(f"Authorization: Bearer {self.key}")
        return [
            ("\r\n".join([*head, f"Content-Length: {len(body)}"]) + "\r\n\r\n").encode() + body
            for body in self.bodies
        ]


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    at = lower.find(b"\r\ncontent-length:")
    if at >= 0:
        end = lower.index(b"\r\n", at + 2)
        return status, await reader.readexactly(int(head[at + 17 : end]))
    if b"\r\ntransfer-encoding: chunked" in lower:
        chunks = []
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await reader.readline()
                return status, b"".join(chunks)
            chunks.append(await reader.readexactly(size))
            await reader.readline()
    raise ConnectionError(f"response without a length: {head[:200]!r}")


@dataclass
class RunStats:
    concurrency: int
    sent: int
    ok: int
    wall_s: float
    rps: float
    p50_ms: float | None
    p99_ms: float | None
    client_cpu_s: float
    server_cpu_pct: float
    other_cpu_pct: float
    capped: bool
    errors: list[str] = field(default_factory=list)


async def drive(
    target: Target,
    requests: list[bytes],
    concurrency: int,
    count: int,
    cap_s: float,
    timeout_s: float,
) -> tuple[list[float], list[str], float, bool]:
    """``concurrency`` workers, one keep-alive connection each, share ``count`` requests; no
    new request starts after ``cap_s``. Latencies (s) of the 200s, errors, wall time, capped."""
    counter = itertools.count()
    latencies: list[float] = []
    errors: list[str] = []
    capped = False
    started = time.perf_counter()
    stop_at = started + cap_s

    async def worker() -> None:
        nonlocal capped
        reader, writer = await asyncio.open_connection(HOST, target.port)
        try:
            while True:
                index = next(counter)
                if index >= count:
                    return
                now = time.perf_counter()
                if now > stop_at:
                    capped = True
                    return
                writer.write(requests[index % len(requests)])
                try:
                    async with asyncio.timeout(timeout_s):
                        status, body = await read_response(reader)
                except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    errors.append(f"{type(exc).__name__}: {exc}"[:200])
                    writer.close()
                    reader, writer = await asyncio.open_connection(HOST, target.port)
                    continue
                if status == 200:
                    latencies.append(time.perf_counter() - now)
                else:
                    errors.append(f"HTTP {status}: {body[:200].decode(errors='replace')}")
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors, time.perf_counter() - started, capped


def measure(
    target: Target,
    requests: list[bytes],
    concurrency: int,
    count: int,
    server_pids: set[int],
    cap_s: float,
    timeout_s: float,
) -> RunStats:
    cores = os.cpu_count() or 1
    machine, server, client = machine_busy_seconds(), process_cpu_seconds(server_pids), 0.0
    client = client_cpu_seconds()
    latencies, errors, wall, capped = asyncio.run(
        drive(target, requests, concurrency, count, cap_s, timeout_s)
    )
    client = client_cpu_seconds() - client
    server = process_cpu_seconds(server_pids) - server
    other = max(machine_busy_seconds() - machine - server - client, 0.0)
    capacity = max(wall, 1e-9) * cores
    return RunStats(
        concurrency=concurrency,
        sent=len(latencies) + len(errors),
        ok=len(latencies),
        wall_s=round(wall, 3),
        rps=round(len(latencies) / wall, 1) if wall else 0.0,
        p50_ms=ms(percentile(latencies, 50), 3),
        p99_ms=ms(percentile(latencies, 99), 3),
        client_cpu_s=round(client, 3),
        server_cpu_pct=round(100 * server / capacity, 1),
        other_cpu_pct=round(100 * other / capacity, 1),
        capped=capped,
        errors=sorted(set(errors))[:5],
    )


def median_stats(runs: list[RunStats]) -> RunStats:
    return RunStats(
        concurrency=runs[0].concurrency,
        sent=sum(r.sent for r in runs),
        ok=sum(r.ok for r in runs),
        wall_s=median_of([r.wall_s for r in runs], 3) or 0.0,
        rps=median_of([r.rps for r in runs], 3) or 0.0,
        p50_ms=median_of([r.p50_ms for r in runs], 3),
        p99_ms=median_of([r.p99_ms for r in runs], 3),
        client_cpu_s=median_of([r.client_cpu_s for r in runs], 3) or 0.0,
        server_cpu_pct=median_of([r.server_cpu_pct for r in runs], 3) or 0.0,
        other_cpu_pct=max(r.other_cpu_pct for r in runs),
        capped=any(r.capped for r in runs),
        errors=sorted({e for r in runs for e in r.errors})[:5],
    )


# ---------------------------------------------------------------------------------------------
# One server, all its levels


@dataclass
class Options:
    concurrency: list[int]
    requests: int
    warmup: int
    repeats: int
    level_timeout_s: float
    request_timeout_s: float
    quiet_wait_s: float
    quiet_pct: float


@dataclass
class Report:
    server: str
    model: str
    status: str = "ok"
    reason: str = ""
    startup_s: float = 0.0
    levels: list[RunStats] = field(default_factory=list)
    runs: list[list[RunStats]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)  # answers to the check rows


def request_bodies(trained: TrainedCase) -> list[bytes]:
    shape = [1, *trained.input_shape[1:]]
    return [
        json.dumps(
            {
                "inputs": [
                    {
                        "name": trained.input_name,
                        "shape": shape,
                        "datatype": trained.datatype,
                        "data": row,
                    }
                ]
            },
            separators=(",", ":"),
        ).encode()
        for row in trained.case.rows()
    ]


def answer_labels(port: int, path: str, key: str | None, bodies: list[bytes]) -> list[str]:
    """The label each of a few fixed rows gets: every server must agree (same weights)."""
    labels = []
    for body in bodies:
        status, answer = http_json("POST", f"http://{HOST}:{port}{path}", key, raw=body, timeout=30)
        if status != 200:
            raise Unavailable(f"check request answered {status}: {str(answer)[:300]}")
        outputs = {o["name"]: o for o in answer["outputs"]}
        labels.append(str(outputs["label"]["data"][0]))
    return labels


def wait_first_answer(server: Server, port: int, path: str, key: str | None, body: bytes) -> float:
    """Poll with a real infer request until it answers 200 (loads lazy models too)."""
    started = time.monotonic()
    while time.monotonic() - started < READY_TIMEOUT_S:
        if not server.alive():
            raise Unavailable(f"{server.name} exited:\n{log_tail(server.log_path, 20)}")
        with contextlib.suppress(OSError):
            status, _ = http_json("POST", f"http://{HOST}:{port}{path}", key, raw=body, timeout=10)
            if status == 200:
                return time.monotonic() - started
        time.sleep(0.5)
    raise Unavailable(f"{server.name} did not answer {path} in {READY_TIMEOUT_S:.0f}s")


@dataclass
class Live:
    """A started server and what the client needs to reach it."""

    name: str
    server: Server
    port: int
    key: str | None


def aimaas_argv(port: int) -> list[str]:
    return [str(MAIN_PYTHON), "-m", "aimaas", "serve", "--host", HOST, "--port", str(port)]


def start_aimaas(data_dir: Path, logs: Path, stack: contextlib.ExitStack) -> Live:
    port = free_port()
    argv = aimaas_argv(port)
    server = stack.enter_context(
        running("aimaas", argv, env_for_aimaas(data_dir), logs / "aimaas.log")
    )
    wait_health(server, port)
    return Live("aimaas", server, port, (data_dir / "admin.key").read_text().strip())


def train_models(
    cases: list[ModelCase], work: Path, logs: Path
) -> tuple[list[TrainedCase], dict[str, Any]]:
    """The models trained through a fresh aimaas's API (the server stops afterwards; its data
    directory is served again for each round)."""
    data_dir = work / "aimaas-data"
    env = env_for_aimaas(data_dir)
    info: dict[str, Any] = {
        "argv": [*aimaas_argv(0)[:-1], "<free port>"],
        "env": {k: v for k, v in env.items() if k.startswith("AIMAAS_")},
    }
    with contextlib.ExitStack() as stack:
        live = start_aimaas(data_dir, logs, stack)
        url = f"http://{HOST}:{live.port}"
        assert live.key is not None
        trained = [train_in_aimaas(url, live.key, c, data_dir, work / "artifacts") for c in cases]
    return trained, info


def start_peer(
    name: str,
    trained: list[TrainedCase],
    logs: Path,
    serve_python: Path | None,
    torch_threads: int,
    stack: contextlib.ExitStack,
) -> Live:
    """A peer serving every trained model (one process tree, on one port)."""
    python = MAIN_PYTHON if name == "fastapi" else serve_python
    if python is None:
        raise Unavailable("the peers' venv could not be prepared")
    port = free_port()
    argv = [str(python), str(Path(__file__).resolve()), "serve-peer", name, "--port", str(port)]
    for item in trained:
        argv += ["--model", f"{item.case.name}={item.artifacts}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIMAAS_", "RAY_"))}
    if torch_threads:
        env |= {"OMP_NUM_THREADS": str(torch_threads), "MKL_NUM_THREADS": str(torch_threads)}
    server = stack.enter_context(running(name, argv, env, logs / f"{name}.log"))
    return Live(name, server, port, None)


def print_run(name: str, model: str, stats: RunStats, label: str) -> None:
    print(
        f"    {label} {name:14} {model:6} c={stats.concurrency:<3} {stats.rps:8.1f} "
        f"req/s  p50 {stats.p50_ms} ms  p99 {stats.p99_ms} ms  ok {stats.ok}/{stats.sent}  "
        f"srv CPU {stats.server_cpu_pct}%  other {stats.other_cpu_pct}%  "
        f"client CPU {stats.client_cpu_s}s" + (f"  errors: {stats.errors}" if stats.errors else ""),
        flush=True,
    )


def bench_round(
    live: Live,
    trained: list[TrainedCase],
    opts: Options,
    reports: dict[tuple[str, str], Report],
    runs: dict[tuple[str, str, int], list[RunStats]],
    label: str,
) -> None:
    """One server, started for this round: each model, each level, a warm-up and one run."""
    for item in trained:
        report = reports[(live.name, item.case.name)]
        if report.status != "ok":
            continue
        path = f"/v2/models/{item.case.name}/infer"
        bodies = request_bodies(item)
        try:
            ready_s = wait_first_answer(live.server, live.port, path, live.key, bodies[0])
            report.startup_s = max(report.startup_s, round(ready_s, 2))
            labels = answer_labels(live.port, path, live.key, bodies[:: max(1, len(bodies) // 25)])
            if report.labels and labels != report.labels:
                raise Unavailable("its answers changed between rounds")
            report.labels = labels
            target = Target(live.port, path, live.key, bodies)
            requests = target.requests()
            pids = live.server.pids()
            for concurrency in opts.concurrency:
                for count in (max(opts.warmup, 4 * concurrency), opts.requests):
                    stats = measure(
                        target,
                        requests,
                        concurrency,
                        count,
                        pids,
                        opts.level_timeout_s,
                        opts.request_timeout_s,
                    )
                runs.setdefault((live.name, item.case.name, concurrency), []).append(stats)
                print_run(live.name, item.case.name, stats, label)
        except (Unavailable, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            report.status, report.reason = "unavailable", f"{type(exc).__name__}: {exc}"
            print(f"    {live.name} {item.case.name}: UNAVAILABLE: {report.reason}", flush=True)


# ---------------------------------------------------------------------------------------------
# Reporting


def model_tables(model: str, reports: list[Report], concurrency: list[int]) -> tuple[str, str]:
    ok = {r.server: r for r in reports if r.model == model and r.status == "ok"}
    headers = [
        "server",
        *(f"c={c} {what}" for c in concurrency for what in ("req/s", "p50", "p99")),
    ]
    rows = []
    for name, report in ok.items():
        levels = {s.concurrency: s for s in report.levels}
        cells = [name]
        for c in concurrency:
            s = levels.get(c)
            cells += [
                fmt(s.rps) if s else "-",
                fmt(s.p50_ms, 2) if s else "-",
                fmt(s.p99_ms, 2) if s else "-",
            ]
        rows.append(cells)
    results = render_table(headers, rows)
    mine = ok.get("aimaas")
    ratio_rows = []
    if mine is not None:
        own = {s.concurrency: s for s in mine.levels}
        for c in concurrency:
            peers = {
                name: {s.concurrency: s for s in r.levels}.get(c)
                for name, r in ok.items()
                if name != "aimaas"
            }
            batching = [(n, s) for n, s in peers.items() if n in BATCHING_PEERS and s]
            best = max(batching, key=lambda pair: pair[1].rps, default=None)
            a = own.get(c)
            if a is None:
                continue
            row = [str(c)]
            if best:
                row += [
                    f"{fmt(ratio(a.rps, best[1].rps, 2), 2)} ({best[0]})",
                    fmt(ratio(a.p99_ms, best[1].p99_ms, 2), 2),
                ]
            else:
                row += ["-", "-"]
            for bare in ("fastapi", "fastapi-uvloop"):
                s = peers.get(bare)
                row.append(fmt(ratio(a.rps, s.rps, 2), 2) if s else "-")
            ratio_rows.append(row)
    ratios = render_table(
        [
            "conc",
            "aimaas/best batching peer req/s",
            "p99 ratio (<=1: no worse)",
            "aimaas/fastapi req/s",
            "aimaas/fastapi-uvloop req/s",
        ],
        ratio_rows,
    )
    return results, ratios


def print_report(meta: dict[str, Any], reports: list[Report], opts: Options) -> None:
    print("\n=== v2 infer serving benchmark ===")
    host = meta["host"]
    print(f"host: {host['cpu']}, {host['cores']} cores; peers: {meta.get('peer_versions', '-')}")
    print(
        f"{opts.requests} requests per run (one row each), {opts.repeats} runs per level "
        "(medians), latency in ms; batching peers: max_batch_size "
        f"{MAX_BATCH}, timeout {BATCH_TIMEOUT_S * 1000:.0f} ms; peers' torch threads: "
        f"{meta.get('peer_threads') or 'default'}; one round per repeat, servers in turn"
    )
    for model in meta["models"]:
        results, ratios = model_tables(model, reports, opts.concurrency)
        print(f"\n--- {model} ---")
        print(results)
        print()
        print(ratios)
    print()
    for r in reports:
        for s in r.levels:
            extra = f"  errors: {s.errors}" if s.errors else ""
            print(
                f"{r.server:14} {r.model:6} c={s.concurrency:<3} client CPU {s.client_cpu_s:.2f}s"
                f"  srv CPU {s.server_cpu_pct}%  other CPU {s.other_cpu_pct}% (worst)"
                f"{'  capped by --level-timeout' if s.capped else ''}{extra}"
            )
    agree = {}
    for r in reports:
        if r.status == "ok":
            agree.setdefault(r.model, {})[r.server] = r.labels
    for model, answers in agree.items():
        reference = answers.get("aimaas")
        differ = [n for n, labels in answers.items() if reference and labels != reference]
        print(
            f"{model}: answers to {len(reference or [])} check rows "
            f"{'differ on ' + ', '.join(differ) if differ else 'agree on every server'}"
        )
    for r in reports:
        if r.status != "ok":
            print(f"{r.server} {r.model}: UNAVAILABLE: {r.reason}")


# ---------------------------------------------------------------------------------------------
# Entry points


def parse_list(text: str, allowed: Sequence[str] | None = None) -> list[str]:
    items = [part.strip() for part in text.split(",") if part.strip()]
    if allowed is not None:
        unknown = [item for item in items if item not in allowed]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown: {unknown}; choose from {list(allowed)}")
    return items


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--servers",
        type=lambda s: parse_list(s, ALL_SERVERS),
        default=list(DEFAULT_SERVERS),
        help=f"comma-separated, from {','.join(ALL_SERVERS)} (default all)",
    )
    parser.add_argument(
        "--models", type=lambda s: parse_list(s, ALL_MODELS), default=list(ALL_MODELS)
    )
    parser.add_argument(
        "--concurrency", type=lambda s: [int(x) for x in parse_list(s)], default=[1, 8, 32]
    )
    parser.add_argument("--requests", type=int, default=1500, help="requests per run")
    parser.add_argument("--warmup", type=int, default=200, help="warm-up requests per level")
    parser.add_argument("--repeats", type=int, default=3, help="runs per level (medians)")
    parser.add_argument(
        "--level-timeout",
        type=float,
        default=60.0,
        help="no new request starts after this many seconds of a run",
    )
    parser.add_argument("--request-timeout", type=float, default=30.0)
    parser.add_argument(
        "--peer-threads",
        type=int,
        default=0,
        help="OMP_NUM_THREADS/MKL_NUM_THREADS for the peers (default: unset, torch's default; "
        "Ray Serve sets 1 for its replicas itself)",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=60.0,
        help="wait up to S seconds before each level for a quiet machine",
    )
    parser.add_argument("--quiet-pct", type=float, default=15.0)
    parser.add_argument(
        "--cache-dir", type=Path, default=Path(os.environ.get(CACHE_ENV, DEFAULT_CACHE))
    )
    parser.add_argument("--json-out", type=Path)
    parser.add_argument("--prepare-only", action="store_true", help="only set up the peers' venv")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, raise_on_sigterm)  # servers are stopped on the way out
    cache: Path = args.cache_dir
    logs = cache / "logs" / "infer-serving"
    logs.mkdir(parents=True, exist_ok=True)
    opts = Options(
        concurrency=args.concurrency,
        requests=args.requests,
        warmup=args.warmup,
        repeats=args.repeats,
        level_timeout_s=args.level_timeout,
        request_timeout_s=args.request_timeout,
        quiet_wait_s=args.quiet_wait,
        quiet_pct=args.quiet_pct,
    )
    meta: dict[str, Any] = {"host": host_info(), "models": args.models, "options": asdict(opts)}
    meta["peer_threads"] = args.peer_threads
    serve_python: Path | None = None
    if any(s not in ("aimaas", "fastapi") for s in args.servers) or args.prepare_only:
        print("preparing the peers' venv", flush=True)
        try:
            serve_python = ensure_serve_venv(cache)
            meta["peer_versions"] = serve_venv_versions(serve_python)
            print(f"  {meta['peer_versions']}")
        except (Unavailable, subprocess.SubprocessError, OSError) as exc:
            print(f"  peers' venv unavailable: {exc}")
    if args.prepare_only:
        return 0 if serve_python else 1
    cases = [MODEL_CASES[m] for m in args.models]
    with tempfile.TemporaryDirectory(prefix="aimaas-infer-bench-") as tmp:
        work = Path(tmp)
        print("aimaas: training through the API", flush=True)
        trained, meta["aimaas"] = train_models(cases, work, logs)
        meta["training_s"] = {t.case.name: round(t.job_seconds, 1) for t in trained}
        by_key = {(n, t.case.name): Report(n, t.case.name) for n in args.servers for t in trained}
        runs: dict[tuple[str, str, int], list[RunStats]] = {}
        for round_ in range(opts.repeats):
            turn = round_ % len(args.servers)
            for name in args.servers[turn:] + args.servers[:turn]:
                label = f"[{round_ + 1}/{opts.repeats}]"
                if all(by_key[(name, t.case.name)].status != "ok" for t in trained):
                    continue
                busy = wait_for_quiet(opts.quiet_wait_s, opts.quiet_pct, QUIET_SAMPLE_S, "    ")
                print(f"  {label} {name}: machine {busy:.0f}% busy before it starts", flush=True)
                with contextlib.ExitStack() as stack:  # stops the server, whatever happens
                    try:
                        if name == "aimaas":
                            live = start_aimaas(work / "aimaas-data", logs, stack)
                        else:
                            live = start_peer(
                                name, trained, logs, serve_python, args.peer_threads, stack
                            )
                    except Unavailable as exc:
                        for t in trained:
                            by_key[(name, t.case.name)].status = "unavailable"
                            by_key[(name, t.case.name)].reason = str(exc)
                        print(f"  {name}: UNAVAILABLE: {exc}", flush=True)
                        continue
                    bench_round(live, trained, opts, by_key, runs, label)
        reports = list(by_key.values())
        for report in reports:
            for concurrency in opts.concurrency:
                done = runs.get((report.server, report.model, concurrency))
                if report.status == "ok" and done:
                    report.runs.append(done)
                    report.levels.append(median_stats(done))
    print_report(meta, reports, opts)
    if args.json_out:
        payload = {"meta": meta, "reports": [asdict(r) for r in reports]}
        args.json_out.write_text(json.dumps(payload, indent=1))
        print(f"\nJSON: {args.json_out}")
    return 0


def serve_peer_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="infer_serving.py serve-peer")
    parser.add_argument("kind", choices=sorted(PEER_SERVERS))
    parser.add_argument("--model", action="append", required=True, help="NAME=ARTIFACTS_DIR")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    models = {name: Path(path) for name, _, path in (m.partition("=") for m in args.model)}
    PEER_SERVERS[args.kind](models, args.port)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve-peer":
        sys.exit(serve_peer_main(sys.argv[2:]))
    sys.exit(main())

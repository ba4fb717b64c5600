"""Training benchmark: the digits CNN trained through aimaas's API against the same model
class and the same loop as a plain PyTorch script, on this machine, in one run.

aimaas: ``aimaas serve`` on 127.0.0.1 with a fresh data directory; the digits (scikit-learn's
``load_digits``, 1797 8x8 grey images) are uploaded once as a zip of one PNG folder per class
(``POST /v1/files``), then each repeat submits ``POST /v1/training/jobs`` (algorithm ``cnn``,
explicit epochs, batch size, learning rate and seed) and polls ``GET /v1/training/jobs/{id}``
every 50 ms until it is ``succeeded``. Timed: submit to ``succeeded`` as the client sees it,
and the job's own ``started_at`` to ``finished_at`` (read from the registry, which keeps
microseconds; the API rounds to seconds).

Plain PyTorch: this file run as ``python benchmarks/training.py plain ...`` in a fresh process:
it decodes the same zip with Pillow, holds out the same 10 % of the rows as aimaas does by
default (``validation_split`` 0.1, the same permutation), builds ``aimaas.learn.models.cnn.CNN``
with the config aimaas's ``architectures`` gives the ``cnn`` defaults, seeds torch the same
way, and runs the plain loop: AdamW (same learning rate, weight decay 0), shuffled
minibatches, cross-entropy, one validation pass per epoch (aimaas validates every epoch too),
the same torch thread count. Timed: the whole process (start-up, imports, data, training) and
the training loop alone.

Then the ratio, and where aimaas's extra time goes: the job's phases from its event
timestamps (queue and worker spawn, worker start-up, data loading, epochs, saving and
registering), and, measured separately in this process on the same data and threads,
``aimaas.learn.trainer.train`` without checkpoints or events, with checkpoints, and with
events written to the registry the way a job writes them.

    .venv/bin/python benchmarks/training.py [--epochs 20] [--batch-size 64] [--repeats 3]
        [--threads 1] [--json-out results.json]

See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shlex
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (
    HOST,
    MAIN_PYTHON,
    REPO_ROOT,
    env_for_aimaas,
    free_port,
    http_json,
    multipart,
    start_process,
    stop_process_tree,
)

POLL_S = 0.05
JOB_TIMEOUT_S = 1800.0
VALIDATION_SPLIT = 0.1  # aimaas's default (AIMAAS_TRAINING__DEFAULT_VALIDATION_SPLIT)
# The cnn defaults (aimaas.learn.hyperparameters.CNNHyperparameters); sent explicitly.
CHANNELS = (32, 64)
KERNEL_SIZE = 3
HIDDEN_SIZE = 128
DROPOUT = 0.25


# ---------------------------------------------------------------------------------------------
# Data


def digits_zip() -> bytes:
    """One folder per class of 8x8 grey PNGs (load_digits, 0..16 scaled to 0..255)."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    data = load_digits()
    pixels = np.round(data.images * 255 / 16).astype(np.uint8)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for index, (image, label) in enumerate(zip(pixels, data.target, strict=True)):
            png = io.BytesIO()
            Image.fromarray(image).save(png, format="PNG")  # uint8 2-D: mode L
            archive.writestr(f"{label}/{index:04d}.png", png.getvalue())
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------
# The plain PyTorch script (runs in its own process)


def plain_main(argv: list[str]) -> int:
    started = time.perf_counter()
    parser = argparse.ArgumentParser(prog="training.py plain")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--learning-rate", type=float, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--json-out", type=Path, required=True)
    args = parser.parse_args(argv)

    import numpy as np
    import torch
    import torch.nn.functional as F
    from PIL import Image

    from aimaas.learn.models.cnn import CNN, CNNConfig

    if args.threads:
        torch.set_num_threads(args.threads)
    imported = time.perf_counter()

    # The zip: one folder per class, sorted paths (as aimaas reads it), labels sorted.
    with zipfile.ZipFile(args.data) as archive:
        names = sorted(n for n in archive.namelist() if n.endswith(".png"))
        images = np.stack(
            [np.asarray(Image.open(io.BytesIO(archive.read(n))).convert("L")) for n in names]
        )
    folders = [n.split("/")[0] for n in names]
    classes = sorted(set(folders))
    labels = np.asarray([classes.index(f) for f in folders], dtype=np.int64)
    # aimaas.uploads.dataset.split: the same permutation, the same held-out rows.
    n = len(labels)
    held_out = max(1, round(n * VALIDATION_SPLIT))
    order = np.random.default_rng(args.seed).permutation(n)
    train_rows, val_rows = np.sort(order[held_out:]), np.sort(order[:held_out])
    x = torch.from_numpy(images.astype(np.float32) / 255.0)[:, None]  # (N, 1, 8, 8)
    y = torch.from_numpy(labels)
    x_train, y_train = x[train_rows], y[train_rows]
    x_val, y_val = x[val_rows], y[val_rows]
    loaded = time.perf_counter()

    torch.manual_seed(args.seed)
    config = CNNConfig(1, 8, 8, CHANNELS, KERNEL_SIZE, HIDDEN_SIZE, len(classes), DROPOUT)
    model = CNN(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate, weight_decay=0.0)
    epoch_s = []
    accuracy = 0.0
    for epoch in range(args.epochs):
        epoch_started = time.perf_counter()
        model.train()
        generator = torch.Generator().manual_seed(args.seed * 1000 + epoch)
        order_t = torch.randperm(len(y_train), generator=generator)
        for start in range(0, len(order_t), args.batch_size):
            rows = order_t[start : start + args.batch_size]
            loss = F.cross_entropy(model(x_train[rows]), y_train[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.inference_mode():
            logits = model(x_val)
            F.cross_entropy(logits, y_val)
            accuracy = float((logits.argmax(1) == y_val).float().mean())
        epoch_s.append(time.perf_counter() - epoch_started)
    done = time.perf_counter()
    args.json_out.write_text(
        json.dumps(
            {
                "import_s": imported - started,
                "data_s": loaded - imported,
                "train_s": done - loaded,
                "epoch_s": epoch_s,
                "in_process_s": done - started,
                "val_accuracy": accuracy,
                "threads": torch.get_num_threads(),
            }
        )
    )
    return 0


# ---------------------------------------------------------------------------------------------
# aimaas


def upload(url: str, key: str, name: str, content: bytes) -> str:
    body, content_type = multipart(name, content, {"purpose": "training"})
    status, answer = http_json("POST", f"{url}/v1/files", key, raw=body, content_type=content_type)
    if status not in (200, 201):
        raise RuntimeError(f"upload answered {status}: {answer}")
    return str(answer["id"])


@contextlib.contextmanager
def aimaas_server(data_dir: Path, threads: int, log_path: Path) -> Iterator[tuple[str, str]]:
    """``aimaas serve`` in its own process group; always stopped by its pid."""
    port = free_port()
    env = env_for_aimaas(data_dir, {"AIMAAS_TRAINING__THREADS": str(threads)})
    argv = [str(MAIN_PYTHON), "-m", "aimaas", "serve", "--host", HOST, "--port", str(port)]
    print(f"  starting: {shlex.join(argv)}  (log: {log_path})", flush=True)
    process = start_process(argv, env, log_path)
    try:
        url = f"http://{HOST}:{port}"
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"aimaas exited with {process.returncode}; see {log_path}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{url}/health", timeout=1) as response,
            ):
                if response.status == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"aimaas did not start; see {log_path}")
            time.sleep(0.2)
        yield url, (data_dir / "admin.key").read_text().strip()
    finally:
        stop_process_tree(process, grace_s=30)  # and a training worker, should one be left


@dataclass
class AimaasRun:
    job_id: str
    submit_s: float  # the POST (it reads the data once to check it)
    wall_s: float  # submit to succeeded, as the client sees it
    job_s: float = 0.0  # started_at to finished_at
    phases: dict[str, float] = field(default_factory=dict)
    events: int = 0
    val_accuracy: float | None = None


def run_aimaas_job(url: str, key: str, file_id: str, args: argparse.Namespace, i: int) -> AimaasRun:
    body = {
        "model": f"digits-cnn-{i}",
        "algorithm": "cnn",
        "training_file": file_id,
        "seed": args.seed,
        "hyperparameters": {
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "learning_rate": args.learning_rate,
        },
    }
    started = time.perf_counter()
    status, job = http_json("POST", f"{url}/v1/training/jobs", key, body)
    submitted = time.perf_counter()
    if status != 201:
        raise RuntimeError(f"job submission answered {status}: {job}")
    while job["status"] not in ("succeeded", "failed", "cancelled"):
        if time.perf_counter() - started > JOB_TIMEOUT_S:
            raise RuntimeError(f"job {job['id']} still {job['status']}")
        time.sleep(POLL_S)
        _, job = http_json("GET", f"{url}/v1/training/jobs/{job['id']}", key)
    wall = time.perf_counter() - started
    if job["status"] != "succeeded":
        raise RuntimeError(f"job {job['id']} ended {job['status']}: {job.get('error')}")
    metrics = job.get("metrics") or {}
    return AimaasRun(job["id"], submitted - started, wall, val_accuracy=metrics.get("val_accuracy"))


def _when(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def job_phases(db_path: Path, run: AimaasRun, epochs: int) -> None:
    """The job's phases from the registry's timestamps (microseconds)."""
    with sqlite3.connect(db_path) as db:
        created, started, finished = db.execute(
            "SELECT created_at, started_at, finished_at FROM jobs WHERE id = ?", (run.job_id,)
        ).fetchone()
        events = [
            (_when(at), json.loads(data) if isinstance(data, str) else data)
            for at, data in db.execute(
                "SELECT created_at, data FROM job_events WHERE job_id = ? ORDER BY id",
                (run.job_id,),
            )
        ]
    created, started, finished = _when(created), _when(started), _when(finished)
    running = next(at for at, data in events if data.get("status") == "running")
    epoch_ends = [at for at, data in events if data.get("type") == "epoch"]
    first_step = next(at for at, data in events if data.get("type") == "step")
    run.job_s = (finished - started).total_seconds()
    run.events = len(events)
    span = (epoch_ends[-1] - epoch_ends[0]).total_seconds()
    per_epoch = span / (len(epoch_ends) - 1) if len(epoch_ends) > 1 else 0.0
    first_epoch = (epoch_ends[0] - running).total_seconds()
    run.phases = {
        "queue and spawn (created -> started)": (started - created).total_seconds(),
        "worker start-up (started -> running event)": (running - started).total_seconds(),
        "handler imports, data, set-up, torch warm-up (running -> epoch 1, less one epoch)": max(
            first_epoch - per_epoch, 0
        ),
        "to the first step event (running -> first step)": (first_step - running).total_seconds(),
        f"epochs ({len(epoch_ends)}, epoch 1 -> last, extrapolated)": per_epoch * epochs,
        "per epoch": per_epoch,
        "save and register (last epoch -> finished)": (finished - epoch_ends[-1]).total_seconds(),
        "client side (wall - job)": run.wall_s - (finished - started).total_seconds(),
    }


# ---------------------------------------------------------------------------------------------
# Where the time goes, measured in this process with aimaas's own code


def startup_seconds(code: str, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([str(MAIN_PYTHON), "-c", code], check=True, cwd=REPO_ROOT)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def breakdown(
    data_zip: Path, db_path: Path, job_id: str, args: argparse.Namespace
) -> dict[str, Any]:
    """The parts of a job measured on their own (same data, same threads)."""
    out: dict[str, Any] = {}
    for label, code in {
        "python -c pass (s)": "pass",
        "python -c 'import torch' (s)": "import torch",
        "python -c 'import aimaas.server.worker' (s, before the running event)": (
            "import aimaas.server.worker"
        ),
        "python -c 'import sklearn.metrics' (s, via aimaas.learn.objectives)": (
            "import sklearn.metrics"
        ),
    }.items():
        out[label] = startup_seconds(code)
    import torch

    from aimaas.learn import trainer
    from aimaas.registry import jobs
    from aimaas.registry.db import Database
    from aimaas.uploads.dataset import split
    from aimaas.uploads.datasets import inspect_upload, read_dataset

    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    summary = inspect_upload(data_zip, data_zip.name)
    inspected = time.perf_counter()
    dataset = read_dataset(data_zip, summary, target=None)
    read = time.perf_counter()
    out["inspect the upload (s, on POST /v1/files)"] = inspected - started
    out["read the zip into a dataset (s, on submit and again in the worker)"] = read - inspected
    train_set, validation = split(dataset, VALIDATION_SPLIT, args.seed)
    params = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
    }
    database = Database(f"sqlite:///{db_path}")

    def to_registry(event: dict[str, Any]) -> None:  # as JobContext.event writes them
        with database.session() as session:
            jobs.add_event(session, job_id=job_id, data={**event, "benchmark": True})

    def train(checkpoints: Path | None, sink: Any) -> float:
        begun = time.perf_counter()
        trainer.train(
            "cnn",
            train_set,
            validation,
            params,
            seed=args.seed,
            checkpoint_dir=checkpoints,
            on_event=sink,
            should_stop=lambda: False,
        )
        return time.perf_counter() - begun

    events: list[dict[str, Any]] = []
    # Once first: the first epoch in a process pays torch's one-time set-up (about a second
    # here), which every variant below would otherwise see only once.
    warm = dict(params, epochs=1)
    trainer.train(
        "cnn",
        train_set,
        validation,
        warm,
        seed=args.seed,
        checkpoint_dir=None,
        on_event=lambda _event: None,
        should_stop=lambda: False,
    )
    with tempfile.TemporaryDirectory() as tmp:
        variants = {
            "trainer.train, no checkpoints, events dropped (s)": (None, events.append),
            "trainer.train, checkpoints each epoch, events dropped (s)": (Path(tmp) / "a", None),
            "trainer.train, checkpoints, events written to the registry (s)": (
                Path(tmp) / "b",
                to_registry,
            ),
        }
        for name, (folder, sink) in variants.items():
            out[name] = train(folder, sink or (lambda _event: None))
        out["events per job"] = len(events) + 1
        checkpoint_bytes = sum(
            f.stat().st_size for f in (Path(tmp) / "a").rglob("*") if f.is_file()
        )
        out["checkpoint size (bytes)"] = checkpoint_bytes
    # Per event, on its own.
    begun = time.perf_counter()
    for i in range(50):
        to_registry({"type": "probe", "i": i})
    out["one event written to the registry (ms)"] = (time.perf_counter() - begun) / 50 * 1000
    database.dispose()
    return out


# ---------------------------------------------------------------------------------------------
# Entry point


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads in both, AIMAAS_TRAINING__THREADS for aimaas (default "
        "1; 0: torch's default, all cores, which on a busy 2-core machine "
        "swings several times over)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--no-breakdown", action="store_true", help="skip the in-process measurements of the parts"
    )
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args(argv)

    cache = Path(os.environ.get("AIMAAS_BENCH_CACHE", Path.home() / ".cache" / "aimaas-bench"))
    logs = cache / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"options": vars(args) | {"json_out": str(args.json_out)}}
    with tempfile.TemporaryDirectory(prefix="aimaas-train-bench-") as tmp:
        work = Path(tmp)
        data_zip = work / "digits.zip"
        data_zip.write_bytes(digits_zip())
        data_dir = work / "aimaas-data"
        runs: list[AimaasRun] = []
        print("aimaas: training through the API", flush=True)
        with aimaas_server(data_dir, args.threads, logs / "training-aimaas.log") as (url, key):
            file_id = upload(url, key, "digits.zip", data_zip.read_bytes())
            for i in range(args.repeats):
                run = run_aimaas_job(url, key, file_id, args, i)
                runs.append(run)
                print(
                    f"  job {i + 1}: {run.wall_s:.2f}s submit->succeeded "
                    f"(val_accuracy {run.val_accuracy})",
                    flush=True,
                )
        for run in runs:
            job_phases(data_dir / "aimaas.db", run, args.epochs)

        print("plain PyTorch: the same model and loop in a fresh process", flush=True)
        plain: list[dict[str, Any]] = []
        for i in range(args.repeats):
            out = work / f"plain-{i}.json"
            argv_plain = [
                str(MAIN_PYTHON),
                str(Path(__file__).resolve()),
                "plain",
                "--data",
                str(data_zip),
                "--epochs",
                str(args.epochs),
                "--batch-size",
                str(args.batch_size),
                "--learning-rate",
                str(args.learning_rate),
                "--seed",
                str(args.seed),
                "--threads",
                str(args.threads),
                "--json-out",
                str(out),
            ]
            env = {k: v for k, v in os.environ.items() if not k.startswith("AIMAAS_")}
            started = time.perf_counter()
            subprocess.run(argv_plain, check=True, cwd=REPO_ROOT, env=env)
            record = json.loads(out.read_text()) | {"process_s": time.perf_counter() - started}
            plain.append(record)
            print(
                f"  run {i + 1}: {record['process_s']:.2f}s process, {record['train_s']:.2f}s "
                f"loop (val_accuracy {record['val_accuracy']:.3f})",
                flush=True,
            )

        parts: dict[str, Any] = {}
        if not args.no_breakdown:
            print("breakdown: the parts on their own, in this process", flush=True)
            try:
                parts = breakdown(data_zip, data_dir / "aimaas.db", runs[-1].job_id, args)
            except Exception as exc:  # internal APIs move; the comparison above stands
                parts = {"unavailable": f"{type(exc).__name__}: {exc}"}

    wall = median([r.wall_s for r in runs])
    job = median([r.job_s for r in runs])
    process = median([p["process_s"] for p in plain])
    loop = median([p["train_s"] for p in plain])
    print("\n=== digits CNN training: aimaas against plain PyTorch ===")
    print(
        f"{args.epochs} epochs, batch {args.batch_size}, AdamW lr {args.learning_rate}, seed "
        f"{args.seed}, torch threads {plain[0]['threads']}, {os.cpu_count()} cores; "
        f"medians of {args.repeats}"
    )
    rows = [
        ("aimaas: submit -> succeeded (client)", wall),
        ("aimaas: job started_at -> finished_at", job),
        ("plain: whole process (start-up, imports, data, loop)", process),
        ("plain: training loop only", loop),
    ]
    for name, value in rows:
        print(f"  {name:56} {value:8.2f} s")
    print(f"  ratio aimaas submit->succeeded / plain process:         {wall / process:6.2f}x")
    print(f"  ratio aimaas job / plain process:                       {job / process:6.2f}x")
    print(f"  ratio aimaas submit->succeeded / plain loop:            {wall / loop:6.2f}x")
    print("\naimaas job phases (medians, s):")
    for name in runs[0].phases:
        print(f"  {name:56} {median([r.phases[name] for r in runs]):8.3f}")
    print(f"  {'events per job':56} {runs[0].events:8d}")
    print("plain phases (medians, s):")
    for name in ("import_s", "data_s", "train_s"):
        print(f"  {name:56} {median([p[name] for p in plain]):8.3f}")
    print(f"  {'per epoch':56} {median([median(p['epoch_s']) for p in plain]):8.3f}")
    if parts:
        print("\nthe parts on their own (this process, same data and threads):")
        for name, value in parts.items():
            shown = f"{value:8.3f}" if isinstance(value, float) else str(value)
            print(f"  {name:66} {shown}")
    result |= {
        "aimaas": [asdict(r) for r in runs],
        "plain": plain,
        "parts": parts,
        "medians": {
            "aimaas_wall_s": wall,
            "aimaas_job_s": job,
            "plain_process_s": process,
            "plain_loop_s": loop,
            "ratio_wall_over_plain_process": wall / process,
        },
    }
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=1, default=str))
        print(f"\nJSON: {args.json_out}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "plain":
        sys.exit(plain_main(sys.argv[2:]))
    sys.exit(main())

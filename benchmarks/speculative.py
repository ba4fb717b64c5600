"""Speculative decoding on the default chat model: Qwen2.5-Coder-1.5B-Instruct with and
without Qwen2.5-Coder-0.5B-Instruct drafting (the two share a tokenizer).

Both runs are the same native llama-server aimaas builds (scripts/build-llama-server.sh), on
the same GGUF files and flags, asked the same prompts one at a time (concurrency 1, greedy,
so both produce the same tokens), in rounds that alternate which goes first. Tokens/s is
completion tokens over the request's wall time, as a client sees it; the ratio is the
median of the rounds' own ratios.

    .venv/bin/python benchmarks/speculative.py [--rounds 3] [--tokens 128] [--draft-max 8]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aimaas.config import default_llama_server_binary
from aimaas.runtime.defaults import QWEN_05B, QWEN_15B
from aimaas.runtime.joined import JoinedFile
from benchmarks.common import (
    HOST,
    free_port,
    log_tail,
    render_table,
    start_process,
    stop_process,
    wait_for_quiet,
)

PROMPTS = [
    "Write a Python function that returns the n-th Fibonacci number, with a docstring.",
    "Explain in five sentences how a hash table works.",
    "List the planets of the solar system with one fact about each.",
    "Write a SQL query that finds the ten customers with the most orders, and explain it.",
    "Describe the water cycle for a ten-year-old.",
    "Write a bash script that counts the lines of every .py file in a folder.",
]


def serve(binary: Path, model: Path, draft: Path | None, args: argparse.Namespace, log: Path):  # type: ignore[no-untyped-def]
    port = free_port()
    argv = [
        str(binary), "--model", str(model), "--host", HOST, "--port", str(port),
        "--ctx-size", "4096", "--parallel", "1", "--jinja", "--no-webui",
        "--threads", str(args.threads), "--threads-batch", str(args.threads),
        "--cache-ram", "0",
    ]  # fmt: skip
    if draft is not None:
        argv += [
            "--spec-draft-model", str(draft), "--spec-draft-n-max", str(args.draft_max),
            "--spec-draft-n-min", str(args.draft_min),
            "--spec-draft-threads", str(args.threads),
            "--spec-draft-threads-batch", str(args.threads),
        ]  # fmt: skip
    proc = start_process(argv, None, log)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"llama-server exited:\n{log_tail(log)}")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=1) as answer:
                if answer.status == 200:
                    return proc, port
        except OSError:
            time.sleep(0.2)
    stop_process(proc)
    raise RuntimeError(f"llama-server did not start:\n{log_tail(log)}")


def ask(port: int, prompt: str, tokens: int) -> tuple[int, float, str]:
    body = {
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": tokens,
        "temperature": 0,
    }
    request = urllib.request.Request(
        f"http://{HOST}:{port}/v1/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=600) as answer:
        reply = json.loads(answer.read())
    seconds = time.perf_counter() - started
    text = reply["choices"][0]["message"]["content"] or ""
    return int(reply["usage"]["completion_tokens"]), seconds, text


def measure(port: int, tokens: int) -> tuple[float, list[str]]:
    ask(port, "Say hello.", 8)  # warm-up
    total_tokens, total_seconds, texts = 0, 0.0, []
    for prompt in PROMPTS:
        n, seconds, text = ask(port, prompt, tokens)
        total_tokens += n
        total_seconds += seconds
        texts.append(text)
    return total_tokens / total_seconds, texts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--draft-max", type=int, default=8)
    parser.add_argument("--draft-min", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    binary = default_llama_server_binary()
    if not binary.is_file():
        print(f"{binary} is missing: `make native` builds it")
        return 1
    target = JoinedFile.from_source(QWEN_15B).ensure()
    draft = JoinedFile.from_source(QWEN_05B).ensure()
    rows, ratios = [], []
    with tempfile.TemporaryDirectory(prefix="aimaas-spec-") as folder:
        for round_ in range(args.rounds):
            order = [None, draft] if round_ % 2 == 0 else [draft, None]
            speeds: dict[str, float] = {}
            texts: dict[str, list[str]] = {}
            for with_draft in order:
                label = "draft 0.5B" if with_draft else "plain"
                wait_for_quiet(60, 15, 2)
                log = Path(folder) / f"{label.replace(' ', '-')}-{round_}.log"
                proc, port = serve(binary, target, with_draft, args, log)
                try:
                    speeds[label], texts[label] = measure(port, args.tokens)
                finally:
                    stop_process(proc)
                print(f"round {round_ + 1} {label}: {speeds[label]:.2f} tok/s", flush=True)
            same = sum(a == b for a, b in zip(texts["plain"], texts["draft 0.5B"], strict=True))
            ratios.append(speeds["draft 0.5B"] / speeds["plain"])
            rows.append(
                [
                    str(round_ + 1),
                    f"{speeds['plain']:.2f}",
                    f"{speeds['draft 0.5B']:.2f}",
                    f"{ratios[-1]:.2f}",
                    f"{same}/{len(PROMPTS)}",
                ]
            )
    print()
    headers = ["round", "plain tok/s", "with draft tok/s", "ratio", "same text"]
    print(render_table(headers, rows))
    spread = f"rounds {min(ratios):.2f}..{max(ratios):.2f}"
    print(
        f"\nconcurrency 1, {args.tokens} tokens, draft-max {args.draft_max}: "
        f"median ratio {statistics.median(ratios):.2f} ({spread})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Chat model quality and speed: a fixed set of short one-answer questions scored by exact
match, then streamed chat completions at several concurrency levels, per model, on aimaas.

By default the script starts its own aimaas (``aimaas serve`` on a free port on 127.0.0.1, a
fresh temporary data directory, the default models registered) and stops it by its pid at
the end, whatever happens; ``--url`` and ``--api-key`` use a running server instead.

    python benchmarks/chat_quality.py [--models a,b] [--concurrency 1,4,16] [--tokens 64]
        [--quick] [--url http://host:port --api-key KEY [--server-pid PID]]

Quality. Each of the questions below is asked once, alone, through the official ``openai``
client: ``POST /v1/chat/completions`` with the system prompt "Answer briefly.", the question
as the user message, ``temperature`` 0 and ``max_tokens`` 24. Every question has a short
list of accepted answers, and a reply is scored by exact match after normalisation:

- normalising: Unicode NFKC; lowercase (except for the one question that asks for capital
  letters); thousands separators dropped ("2,500" -> "2500"); then the text is cut into its
  words and numbers (letters and digits; a number may have a sign and decimals), so
  punctuation, quotes, Markdown emphasis and a trailing period never count, and the words
  are joined by single spaces. Numbers compare by value ("12.0" = "12");
- a reply is right when its normal form equals an accepted answer's normal form (the whole
  reply, nothing more: "The capital is Paris." is wrong where only "Paris" is accepted);
- only where the question asks for one word, one number or yes/no (kinds ``word``,
  ``number``, ``yesno``) is the reply's first word/number also enough on its own:
  "Paris, France." and "No, 7 is odd." are right, "The answer is 42" is not. Names, formulas
  of several words and "Repeat exactly" questions must be the whole reply.

Speed. For each ``--concurrency`` level, that many workers (``AsyncOpenAI``, one stream
each at a time) send ``max(2 x concurrency, 4)`` streamed chat completions with
``max_tokens`` = ``--tokens``, ``temperature`` 0 and ``stream_options.include_usage``, on
prompts that ask for a long story (aimaas has no ``ignore_eos``, so a model may stop
earlier: tokens/request shows it). Reported: aggregate completion tokens/s (the usage chunks'
``completion_tokens`` over the level's wall time), time to first content token p50, and the
server's CPU. ``--repeats N`` runs each level N times and reports medians.

Memory: after a model has been used, the resident set of the server process tree (the
server's pid and every process below it, VmRSS summed from /proc), and how much it grew
while this model ran (other models loaded earlier may still be resident).

See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (
    HOST,
    MAIN_PYTHON,
    Unavailable,
    client_cpu_seconds,
    descendants,
    env_for_aimaas,
    fmt,
    free_port,
    host_info,
    http_json,
    log_tail,
    median_of,
    ms,
    parse_int_list,
    percentile,
    positive_int,
    process_cpu_seconds,
    raise_on_sigterm,
    render_table,
    start_process,
    stop_process_tree,
    wait_for_quiet,
)

FALLBACK_MODELS = (
    "qwen2.5-coder-1.5b-instruct",
    "qwen2.5-coder-0.5b-instruct",
    "smollm2-135m-instruct",
)
SYSTEM_PROMPT = "Answer briefly."
QUALITY_MAX_TOKENS = 24
START_TIMEOUT_S = 120.0
READY_POLL_S = 0.3
LOAD_TIMEOUT_S = 600.0  # the first request of a model loads it
QUIET_WAIT_S = 60.0
QUIET_PCT = 15.0
QUIET_SAMPLE_S = 2.0
QUICK_QUESTIONS = 10

STORY_PROMPTS = (
    "Write a long story about a lighthouse keeper who finds a message in a bottle.",
    "Write a long story about a robot learning to bake bread in a small village.",
    "Write a long story about two friends crossing a desert on camels.",
    "Write a long story about a cat who becomes the mayor of a seaside town.",
    "Write a long story about a child who discovers a door in the back of a library.",
    "Write a long story about a dragon that is afraid of the dark.",
    "Write a long story about a sailor lost in a storm who finds a hidden island.",
    "Write a long story about an old clockmaker and the clock that ran backwards.",
)

Kind = Literal["word", "number", "yesno", "text"]


@dataclass(frozen=True)
class Question:
    id: str
    prompt: str
    answers: tuple[str, ...]
    kind: Kind
    case_sensitive: bool = False


def q(
    id_: str, prompt: str, answers: str | tuple[str, ...], kind: Kind, case: bool = False
) -> Question:
    return Question(id_, prompt, (answers,) if isinstance(answers, str) else answers, kind, case)


ONE_WORD = "Answer with one word."
ONE_NUMBER = "Reply with only the number."
NAME_ONLY = "Reply with only the author's name."

# Written for this benchmark. The first QUICK_QUESTIONS mix every category (--quick asks those).
QUESTIONS: tuple[Question, ...] = (
    q("capital-france", f"What is the capital of France? {ONE_WORD}", "Paris", "word"),
    q("add-17-25", f"What is 17 + 25? {ONE_NUMBER}", "42", "number"),
    q("cm-in-metre", f"How many centimetres are in one metre? {ONE_NUMBER}", "100", "number"),
    q(
        "sky-colour",
        "Answer with one word: what colour is the sky on a clear day?",
        "blue",
        "word",
    ),
    q(
        "symbol-gold",
        "What is the chemical symbol for gold? Reply with only the symbol.",
        "Au",
        "word",
    ),
    q("mul-9-8", f"What is 9 * 8? {ONE_NUMBER}", "72", "number"),
    q("sun-star", "Answer yes or no: is the Sun a star?", "yes", "yesno"),
    q("red-planet", f"Which planet is known as the Red Planet? {ONE_WORD}", "Mars", "word"),
    q("min-in-3h", f"How many minutes are in 3 hours? {ONE_NUMBER}", "180", "number"),
    q("repeat-fox", "Repeat exactly: The quick brown fox.", "The quick brown fox.", "text"),
    # Facts
    q("capital-japan", f"What is the capital of Japan? {ONE_WORD}", "Tokyo", "word"),
    q("capital-italy", f"What is the capital of Italy? {ONE_WORD}", "Rome", "word"),
    q("capital-canada", f"What is the capital of Canada? {ONE_WORD}", "Ottawa", "word"),
    q("capital-australia", f"What is the capital of Australia? {ONE_WORD}", "Canberra", "word"),
    q(
        "symbol-sodium",
        "What is the chemical symbol for sodium? Reply with only the symbol.",
        "Na",
        "word",
    ),
    q(
        "symbol-oxygen",
        "What is the chemical symbol for oxygen? Reply with only the symbol.",
        "O",
        "word",
    ),
    q(
        "largest-planet",
        f"What is the largest planet in our solar system? {ONE_WORD}",
        "Jupiter",
        "word",
    ),
    q("closest-planet", f"Which planet is closest to the Sun? {ONE_WORD}", "Mercury", "word"),
    q("author-1984", f"Who wrote the novel 1984? {NAME_ONLY}", ("George Orwell", "Orwell"), "text"),
    q(
        "author-romeo",
        f"Who wrote Romeo and Juliet? {NAME_ONLY}",
        ("William Shakespeare", "Shakespeare"),
        "text",
    ),
    q(
        "author-pride",
        f"Who wrote Pride and Prejudice? {NAME_ONLY}",
        ("Jane Austen", "Austen"),
        "text",
    ),
    q(
        "largest-ocean",
        f"What is the largest ocean on Earth? {ONE_WORD}",
        ("Pacific", "Pacific Ocean"),
        "word",
    ),
    q(
        "continents",
        f"How many continents are there on Earth? {ONE_NUMBER}",
        ("7", "seven"),
        "number",
    ),
    q(
        "photosynthesis-gas",
        "Which gas do plants take in from the air for photosynthesis? Reply with only its name.",
        ("carbon dioxide", "CO2", "carbon dioxide (CO2)", "CO2 (carbon dioxide)"),
        "text",
    ),
    q(
        "water-freezes",
        f"At how many degrees Celsius does water freeze? {ONE_NUMBER}",
        "0",
        "number",
    ),
    q("pyramids", f"In which country are the pyramids of Giza? {ONE_WORD}", "Egypt", "word"),
    q(
        "water-formula",
        "What is the chemical formula of water? Reply with only the formula.",
        "H2O",
        "word",
    ),
    # Arithmetic
    q("div-144-12", f"What is 144 / 12? {ONE_NUMBER}", "12", "number"),
    q("pct-15-200", f"What is 15% of 200? {ONE_NUMBER}", "30", "number"),
    q("sub-100-37", f"What is 100 - 37? {ONE_NUMBER}", "63", "number"),
    q("pow-2-10", f"What is 2 to the power of 10? {ONE_NUMBER}", "1024", "number"),
    q("mul-13-3", f"What is 13 * 3? {ONE_NUMBER}", "39", "number"),
    q("sqrt-81", f"What is the square root of 81? {ONE_NUMBER}", ("9", "nine"), "number"),
    q("half-250", f"What is half of 250? {ONE_NUMBER}", "125", "number"),
    q("add-999-1", f"What is 999 + 1? {ONE_NUMBER}", "1000", "number"),
    # Unit conversions (exact)
    q("g-in-2.5kg", f"How many grams are in 2.5 kilograms? {ONE_NUMBER}", "2500", "number"),
    q("s-in-2min", f"How many seconds are in 2 minutes? {ONE_NUMBER}", "120", "number"),
    q(
        "mm-in-cm",
        f"How many millimetres are in one centimetre? {ONE_NUMBER}",
        ("10", "ten"),
        "number",
    ),
    q("h-in-week", f"How many hours are in one week? {ONE_NUMBER}", "168", "number"),
    q("m-in-3km", f"How many metres are in 3 kilometres? {ONE_NUMBER}", "3000", "number"),
    q("days-leap-year", f"How many days are in a leap year? {ONE_NUMBER}", "366", "number"),
    # Instruction following
    q("seven-even", "Answer yes or no: is 7 an even number?", "no", "yesno"),
    q("week-days", "Answer yes or no: does a week have seven days?", "yes", "yesno"),
    q("fish-fly", "Answer yes or no: can a goldfish climb trees?", "no", "yesno"),
    q("repeat-moon", "Repeat exactly: blue moon 42", "blue moon 42", "text"),
    q(
        "spider-legs",
        "Reply with only the number: how many legs does a spider have?",
        ("8", "eight"),
        "number",
    ),
    q("opposite-hot", "Answer with one word: what is the opposite of hot?", "cold", "word"),
    q("plural-mouse", "Answer with one word: what is the plural of 'mouse'?", "mice", "word"),
    q("last-letter", "Reply with only the last letter of the word 'apple'.", "e", "word"),
    q(
        "caps-cat",
        "Write the word 'cat' in capital letters. Reply with only that word.",
        "CAT",
        "word",
        case=True,
    ),
    q("after-99", "Reply with only the number: what number comes after 99?", "100", "number"),
)


# ---------------------------------------------------------------------------------------------
# Scoring

_TOKEN = re.compile(r"[-+]?\d+(?:\.\d+)?|[^\W_]+")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


def _canonical(token: str) -> str:
    """A number as its value ("12.0", "+12" -> "12"; "2.50" -> "2.5"); a word as it is."""
    try:
        value = float(token)
    except ValueError:
        return token
    return str(int(value)) if value.is_integer() else repr(value)


def tokens_of(text: str, case_sensitive: bool = False) -> list[str]:
    """The words and numbers of ``text``, normalised (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text)
    if not case_sensitive:
        text = text.lower()
    text = _THOUSANDS.sub("", text)
    return [_canonical(t) for t in _TOKEN.findall(text)]


def is_right(question: Question, reply: str) -> bool:
    got = tokens_of(reply, question.case_sensitive)
    if not got:
        return False
    for answer in question.answers:
        want = tokens_of(answer, question.case_sensitive)
        if got == want:
            return True
        if question.kind != "text" and len(want) == 1 and got[0] == want[0]:
            return True
    return False


# ---------------------------------------------------------------------------------------------
# The server and its memory


@dataclass
class Endpoint:
    url: str  # without /v1
    key: str | None
    pid: int | None  # the server's, for its CPU and memory; None if unknown


def wait_health(proc: subprocess.Popen[bytes], url: str, log_path: Path) -> float:
    start = time.monotonic()
    while time.monotonic() - start < START_TIMEOUT_S:
        if proc.poll() is not None:
            raise Unavailable(
                f"aimaas exited with {proc.returncode} before it was ready:\n{log_tail(log_path)}"
            )
        with contextlib.suppress(OSError):
            status, _ = http_json("GET", f"{url}/health", None, timeout=2)
            if status == 200:
                return time.monotonic() - start
        time.sleep(READY_POLL_S)
    raise Unavailable(f"aimaas not ready after {START_TIMEOUT_S:.0f}s; see {log_path}")


@contextlib.contextmanager
def own_server(max_concurrency: int, log_dir: Path) -> Iterator[Endpoint]:
    """``aimaas serve`` on a fresh data directory, default models registered; stopped (with
    every process below it) by its pid on the way out, however it is left."""
    with tempfile.TemporaryDirectory(prefix="aimaas-chat-quality-") as tmp:
        data_dir = Path(tmp) / "data"
        port = free_port()
        argv = [str(MAIN_PYTHON), "-m", "aimaas", "serve", "--host", HOST, "--port", str(port)]
        argv += ["--data-dir", str(data_dir)]
        env = env_for_aimaas(
            data_dir,
            {
                "AIMAAS_ENGINE__DEFAULT_MODELS": "true",
                "AIMAAS_ENGINE__PARALLEL": str(max(max_concurrency, 1)),
                "AIMAAS_ENGINE__CONTEXT_LENGTH": "1024",
            },
        )
        log_path = log_dir / "aimaas-chat-quality.log"
        shown = {k: v for k, v in env.items() if k.startswith("AIMAAS_") and k != "AIMAAS_DATA_DIR"}
        print(f"starting: {shlex.join(argv)}  (log: {log_path})", flush=True)
        print(f"  env: {' '.join(f'{k}={v}' for k, v in sorted(shown.items()))}", flush=True)
        proc = start_process(argv, env, log_path)
        try:
            url = f"http://{HOST}:{port}"
            startup = wait_health(proc, url, log_path)
            key = (data_dir / "admin.key").read_text().strip()
            print(f"  ready in {startup:.1f}s (pid {proc.pid})", flush=True)
            yield Endpoint(url=url, key=key, pid=proc.pid)
        finally:
            stop_process_tree(proc)
            print(f"stopped aimaas (pid {proc.pid})", flush=True)


def tree_pids(pid: int) -> set[int]:
    return {pid} | descendants(pid)


def tree_rss_mb(pid: int | None) -> float | None:
    """VmRSS of ``pid`` and every process below it, summed, in MiB; None without a pid."""
    if pid is None:
        return None
    total_kb = 0
    for p in tree_pids(pid):
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
                    break
    return round(total_kb / 1024, 1)


# ---------------------------------------------------------------------------------------------
# Which models


def listed_models(endpoint: Endpoint) -> list[dict[str, Any]]:
    status, answer = http_json("GET", f"{endpoint.url}/v1/models", endpoint.key, timeout=30)
    if status != 200 or not isinstance(answer, dict):
        raise Unavailable(f"GET /v1/models answered {status}: {answer}")
    return [m for m in answer.get("data", []) if isinstance(m, dict) and "id" in m]


def choose_models(requested: list[str] | None, cards: list[dict[str, Any]]) -> list[str]:
    """``--models`` as given; else every listed model whose capabilities include chat, or,
    where the listing carries no capabilities (aimaas's ``/v1/models`` is OpenAI's bare
    model object), FALLBACK_MODELS."""
    if requested:
        return requested
    if any("capabilities" in c for c in cards):
        chat = [str(c["id"]) for c in cards if "chat" in (c.get("capabilities") or [])]
        print(f"chat models listed by GET /v1/models: {', '.join(chat) or 'none'}")
        return chat
    print(
        "GET /v1/models carries no capabilities; using the default list: "
        + ", ".join(FALLBACK_MODELS)
    )
    return list(FALLBACK_MODELS)


# ---------------------------------------------------------------------------------------------
# Measuring


@dataclass
class Answer:
    id: str
    question: str
    reply: str
    right: bool
    expected: list[str]
    latency_ms: float


@dataclass
class LevelRun:
    concurrency: int
    requests: int
    ok: int
    wall_s: float
    completion_tokens: int
    tok_per_s: float
    tokens_per_request: float
    ttft_p50_ms: float | None
    server_cpu_pct: float | None
    client_cpu_s: float
    errors: list[str] = field(default_factory=list)


@dataclass
class ModelReport:
    model: str
    status: str = "ok"  # ok | not listed | error
    reason: str | None = None
    first_request_s: float | None = None  # includes loading the model
    right: int = 0
    total: int = 0
    accuracy_pct: float | None = None
    answer_p50_ms: float | None = None
    answers: list[Answer] = field(default_factory=list)
    levels: list[LevelRun] = field(default_factory=list)
    rss_mb: float | None = None
    rss_growth_mb: float | None = None


def client_for(endpoint: Endpoint, timeout: float) -> Any:
    from openai import OpenAI

    return OpenAI(
        base_url=f"{endpoint.url}/v1",
        api_key=endpoint.key or "none",
        max_retries=0,
        timeout=timeout,
    )


def first_request(endpoint: Endpoint, model: str) -> float:
    """One short chat request: loads the model; seconds it took. Raises the client's error."""
    client = client_for(endpoint, LOAD_TIMEOUT_S)
    began = time.perf_counter()
    client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Say hi."}],
        max_tokens=1,
        temperature=0,
    )
    return time.perf_counter() - began


def ask_all(endpoint: Endpoint, model: str, questions: Sequence[Question]) -> list[Answer]:
    client = client_for(endpoint, 120.0)
    answers = []
    for question in questions:
        began = time.perf_counter()
        response = client.chat.completions.create(
            model=model,
            messages=[
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": question.prompt},
            ],
            max_tokens=QUALITY_MAX_TOKENS,
            temperature=0,
        )
        latency = time.perf_counter() - began
        reply = (response.choices[0].message.content or "") if response.choices else ""
        answers.append(
            Answer(
                id=question.id,
                question=question.prompt,
                reply=reply,
                right=is_right(question, reply),
                expected=list(question.answers),
                latency_ms=round(latency * 1000, 1),
            )
        )
    return answers


async def stream_one(client: Any, model: str, prompt: str, tokens: int) -> tuple[int, float | None]:
    """One streamed chat completion: its completion tokens (from the usage chunk; the content
    chunks counted if there is none) and seconds to its first content."""
    began = time.perf_counter()
    ttft = None
    chunks = 0
    usage_tokens = None
    stream = await client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": prompt}],
        max_tokens=tokens,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    async for chunk in stream:
        if chunk.usage is not None:
            usage_tokens = chunk.usage.completion_tokens
        for choice in chunk.choices:
            if choice.delta.content:
                chunks += 1
                if ttft is None:
                    ttft = time.perf_counter() - began
    return (usage_tokens if usage_tokens is not None else chunks), ttft


async def run_level_async(
    endpoint: Endpoint, model: str, concurrency: int, n_requests: int, tokens: int
) -> tuple[float, list[tuple[int, float | None]], list[str]]:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(
        base_url=f"{endpoint.url}/v1",
        api_key=endpoint.key or "none",
        max_retries=0,
        timeout=300.0,
    )
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n_requests):
        queue.put_nowait(i)
    results: list[tuple[int, float | None]] = []
    errors: list[str] = []

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            try:
                results.append(
                    await stream_one(client, model, STORY_PROMPTS[i % len(STORY_PROMPTS)], tokens)
                )
            except Exception as exc:  # reported; the level goes on
                errors.append(f"{type(exc).__name__}: {exc}"[:200])

    began = time.perf_counter()
    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        await client.close()
    return time.perf_counter() - began, results, errors


def measure_level(
    endpoint: Endpoint, model: str, concurrency: int, n_requests: int, tokens: int
) -> LevelRun:
    pids = tree_pids(endpoint.pid) if endpoint.pid else set()
    cpu_before, client_before = process_cpu_seconds(pids), client_cpu_seconds()
    wall, results, errors = asyncio.run(
        run_level_async(endpoint, model, concurrency, n_requests, tokens)
    )
    server_cpu = process_cpu_seconds(pids) - cpu_before if pids else None
    total = sum(t for t, _ in results)
    ttfts = [t for _, t in results if t is not None]
    run = LevelRun(
        concurrency=concurrency,
        requests=n_requests,
        ok=len(results),
        wall_s=round(wall, 3),
        completion_tokens=total,
        tok_per_s=round(total / wall, 2) if wall > 0 else 0.0,
        tokens_per_request=round(total / len(results), 1) if results else 0.0,
        ttft_p50_ms=ms(percentile(ttfts, 50), 1),
        server_cpu_pct=None if server_cpu is None else round(100 * server_cpu / wall, 1),
        client_cpu_s=round(client_cpu_seconds() - client_before, 3),
        errors=sorted(set(errors))[:3],
    )
    print(
        f"  c={concurrency}: {run.ok}/{run.requests} ok, {run.tok_per_s} tok/s, "
        f"{run.tokens_per_request} tokens/request, TTFT p50 {run.ttft_p50_ms} ms, "
        f"server CPU {fmt(run.server_cpu_pct)}%, client CPU {run.client_cpu_s}s",
        flush=True,
    )
    for err in run.errors:
        print(f"    error: {err}", flush=True)
    return run


def combine(runs: list[LevelRun]) -> LevelRun:
    """Repeats of one level: medians of the rates and latencies, summed counts."""
    if len(runs) == 1:
        return runs[0]
    ok = sum(r.ok for r in runs)
    tokens = sum(r.completion_tokens for r in runs)
    return LevelRun(
        concurrency=runs[0].concurrency,
        requests=sum(r.requests for r in runs),
        ok=ok,
        wall_s=round(sum(r.wall_s for r in runs), 3),
        completion_tokens=tokens,
        tok_per_s=median_of([r.tok_per_s for r in runs], 2) or 0.0,
        tokens_per_request=round(tokens / ok, 1) if ok else 0.0,
        ttft_p50_ms=median_of([r.ttft_p50_ms for r in runs], 1),
        server_cpu_pct=median_of([r.server_cpu_pct for r in runs], 1),
        client_cpu_s=round(sum(r.client_cpu_s for r in runs), 3),
        errors=sorted({e for r in runs for e in r.errors})[:3],
    )


def api_error_text(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        message = body.get("message") or (body.get("error") or {}).get("message")
        if message:
            return f"{getattr(exc, 'status_code', '')} {message}".strip()
    return f"{type(exc).__name__}: {exc}"


@dataclass
class Options:
    concurrency: list[int]
    tokens: int
    questions: list[Question]
    repeats: int
    requests_per_level: int | None
    quiet_wait_s: float
    quiet_pct: float

    def n_requests(self, concurrency: int) -> int:
        return self.requests_per_level or max(2 * concurrency, 4)


def bench_model(endpoint: Endpoint, model: str, listed: set[str], opts: Options) -> ModelReport:
    import openai

    report = ModelReport(model=model, total=len(opts.questions))
    if model not in listed:
        report.status = "not listed"
        report.reason = (
            f"not listed by GET /v1/models (it lists: {', '.join(sorted(listed)) or 'nothing'})"
        )
        print(f"[{model}] skipped: {report.reason}", flush=True)
        return report
    print(f"[{model}]", flush=True)
    rss_before = tree_rss_mb(endpoint.pid)
    try:
        report.first_request_s = round(first_request(endpoint, model), 2)
        print(f"  first request (loads the model): {report.first_request_s}s", flush=True)
        report.answers = ask_all(endpoint, model, opts.questions)
        report.right = sum(a.right for a in report.answers)
        report.accuracy_pct = round(100 * report.right / report.total, 1)
        report.answer_p50_ms = ms(percentile([a.latency_ms / 1000 for a in report.answers], 50), 1)
        print(
            f"  quality: {report.right}/{report.total} ({report.accuracy_pct}%), "
            f"answer p50 {report.answer_p50_ms} ms",
            flush=True,
        )
        runs: list[list[LevelRun]] = [[] for _ in opts.concurrency]
        for _ in range(opts.repeats):
            for level_runs, concurrency in zip(runs, opts.concurrency, strict=True):
                if opts.quiet_wait_s > 0:
                    wait_for_quiet(opts.quiet_wait_s, opts.quiet_pct, QUIET_SAMPLE_S)
                level_runs.append(
                    measure_level(
                        endpoint, model, concurrency, opts.n_requests(concurrency), opts.tokens
                    )
                )
        report.levels = [combine(r) for r in runs]
    except openai.APIError as exc:
        report.status, report.reason = "error", api_error_text(exc)
        print(f"  error: {report.reason}", flush=True)
    report.rss_mb = tree_rss_mb(endpoint.pid)
    if report.rss_mb is not None and rss_before is not None:
        report.rss_growth_mb = round(report.rss_mb - rss_before, 1)
    return report


# ---------------------------------------------------------------------------------------------
# Reporting


def short(text: str, width: int = 70) -> str:
    flat = json.dumps(text, ensure_ascii=False)[1:-1]
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def print_report(meta: dict[str, Any], reports: list[ModelReport], concurrency: list[int]) -> None:
    print("\n=== chat quality ===")
    host = meta["host"]
    print(f"host: {host['cpu']}, {host['cores']} cores, flags {' '.join(host['cpu_flags'])}")
    print(
        f"server: {meta['server']}; questions: {meta['questions']}, max_tokens "
        f"{QUALITY_MAX_TOKENS}, temperature 0; speed: --tokens {meta['tokens']}, "
        f"repeats {meta['repeats']}"
    )
    headers = ["model", "right", "accuracy %", "answer p50 ms", "first req s"]
    headers += [f"tok/s c={c}" for c in concurrency]
    headers += [f"TTFT p50 ms c={c}" for c in concurrency]
    headers += ["tok/req", "RSS MiB", "RSS +MiB"]
    rows = []
    for r in reports:
        if r.status == "not listed":
            rows.append([r.model, "not listed", *["-"] * (len(headers) - 2)])
            continue
        by_c = {lv.concurrency: lv for lv in r.levels}
        tok_req = median_of([lv.tokens_per_request for lv in r.levels], 1)
        rows.append(
            [
                r.model,
                f"{r.right}/{r.total}" if r.answers else r.status,
                fmt(r.accuracy_pct),
                fmt(r.answer_p50_ms, 0),
                fmt(r.first_request_s),
                *[fmt(by_c[c].tok_per_s) if c in by_c else "-" for c in concurrency],
                *[fmt(by_c[c].ttft_p50_ms, 0) if c in by_c else "-" for c in concurrency],
                fmt(tok_req),
                fmt(r.rss_mb, 0),
                fmt(r.rss_growth_mb, 0),
            ]
        )
    print(render_table(headers, rows))
    for r in reports:
        wrong = [a for a in r.answers if not a.right]
        if wrong:
            print(f"\n{r.model}: wrong ({len(wrong)})")
            for a in wrong:
                print(
                    f"  {a.id}: {short(a.reply, 60)!s} (want {' | '.join(a.expected)})  "
                    f"[{short(a.question, 60)}]"
                )
        if r.status != "ok":
            print(f"\n{r.model}: {r.status.upper()}: {r.reason}")


# ---------------------------------------------------------------------------------------------
# Entry point


def parse_models(text: str) -> list[str]:
    names = [v.strip() for v in text.split(",") if v.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected at least one model name")
    return names


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--models",
        type=parse_models,
        default=None,
        help="comma-separated model names (default: the chat models GET /v1/models lists, "
        f"or, where it lists no capabilities, {','.join(FALLBACK_MODELS)})",
    )
    parser.add_argument(
        "--url", default=None, help="a running aimaas (http://host:port); default: start one"
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get("AIMAAS_API_KEY"),
        help="its API key, with --url (default: $AIMAAS_API_KEY)",
    )
    parser.add_argument(
        "--server-pid",
        type=int,
        default=None,
        help="with --url, that server's pid, for its CPU and resident memory",
    )
    parser.add_argument(
        "--concurrency",
        type=parse_int_list,
        default=[1, 4, 16],
        help="comma-separated concurrency levels for the speed part (default: 1,4,16)",
    )
    parser.add_argument(
        "--tokens",
        type=positive_int,
        default=64,
        help="max_tokens of each speed request (default: 64)",
    )
    parser.add_argument(
        "--requests-per-level",
        type=positive_int,
        default=None,
        help="speed requests per level (default: max(2 x concurrency, 4))",
    )
    parser.add_argument(
        "--repeats",
        type=positive_int,
        default=1,
        help="run each speed level this many times; medians are reported (default: 1)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: the first {QUICK_QUESTIONS} questions, concurrency 1 only",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=QUIET_WAIT_S,
        help="before each speed level, wait up to this many seconds for the rest of the "
        "machine to use under --quiet-pct of the CPU; 0 = never wait "
        f"(default: {QUIET_WAIT_S:.0f})",
    )
    parser.add_argument(
        "--quiet-pct",
        type=float,
        default=QUIET_PCT,
        help=f"see --quiet-wait (default: {QUIET_PCT:.0f})",
    )
    parser.add_argument(
        "--log-dir",
        type=Path,
        default=Path(tempfile.gettempdir()),
        help="where the started server's log goes (default: the temp dir)",
    )
    parser.add_argument("--json-out", type=Path, default=None, help="also write results here")
    args = parser.parse_args(argv)
    if args.quick:
        args.concurrency = [1]
    if args.server_pid is not None and args.url is None:
        parser.error("--server-pid goes with --url")
    return args


def run(endpoint: Endpoint, args: argparse.Namespace, opts: Options) -> list[ModelReport]:
    cards = listed_models(endpoint)
    listed = {str(c["id"]) for c in cards}
    models = choose_models(args.models, cards)
    if not models:
        raise Unavailable("no chat model to measure")
    return [bench_model(endpoint, m, listed, opts) for m in models]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, raise_on_sigterm)
    questions = list(QUESTIONS[:QUICK_QUESTIONS] if args.quick else QUESTIONS)
    opts = Options(
        concurrency=args.concurrency,
        tokens=args.tokens,
        questions=questions,
        repeats=args.repeats,
        requests_per_level=args.requests_per_level,
        quiet_wait_s=args.quiet_wait,
        quiet_pct=args.quiet_pct,
    )
    try:
        if args.url:
            endpoint = Endpoint(url=args.url.rstrip("/"), key=args.api_key, pid=args.server_pid)
            server = f"{endpoint.url} (running)"
            reports = run(endpoint, args, opts)
        else:
            args.log_dir.mkdir(parents=True, exist_ok=True)
            with own_server(max(args.concurrency), args.log_dir) as endpoint:
                server = "aimaas started by this script, fresh data dir, default models"
                reports = run(endpoint, args, opts)
    except Unavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    meta = {
        "host": host_info(),
        "server": server,
        "questions": len(questions),
        "tokens": args.tokens,
        "concurrency": args.concurrency,
        "repeats": args.repeats,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    print_report(meta, reports, args.concurrency)
    if args.json_out is not None:
        doc = {"meta": meta, "models": [asdict(r) for r in reports]}
        args.json_out.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"\nJSON written to {args.json_out}")
    return 0 if any(r.status == "ok" for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())

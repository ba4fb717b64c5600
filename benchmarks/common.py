"""What the benchmark scripts share: starting a server subprocess and stopping it by its pid,
free ports, process-tree and machine CPU accounting, waiting for a quiet machine, running a
preparation command into a log, the aimaas API client, percentiles and medians, and the
plain-text tables.

The scripts run as ``python benchmarks/<script>.py``: each puts the repository root on
``sys.path`` and imports this module as ``benchmarks.common``. Standard library only: the
peers' venvs import it too.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import resource
import shlex
import signal
import socket
import statistics
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
MAIN_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
DEFAULT_CACHE = Path.home() / ".cache" / "aimaas-bench"
CACHE_ENV = "AIMAAS_BENCH_CACHE"
TORCH_PIN = "torch==2.13.0"  # the aimaas venv's: never a second torch in a peers' venv
HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
STOP_GRACE_S = 20.0
SMALL_CMD_TIMEOUT_S = 300
CPU_FLAGS = (
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512_vnni",
    "avx512_bf16",
    "avx_vnni",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
)


class Unavailable(Exception):
    """A server cannot be prepared, started or used; the message says why (the others still
    run)."""


def raise_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    """A SIGTERM handler that unwinds like Ctrl-C, so that servers are stopped on the way out."""
    raise KeyboardInterrupt


# ---------------------------------------------------------------------------------------------
# Commands and venvs


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def run_logged(
    argv: Sequence[str | Path],
    log_path: Path,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout_s: float = SMALL_CMD_TIMEOUT_S,
) -> None:
    """Run a preparation command, its output appended to ``log_path``; raise Unavailable on
    failure with the log's tail."""
    cmd = [str(a) for a in argv]
    print(f"  $ {shlex.join(cmd)}  (log: {log_path})", flush=True)
    with log_path.open("ab") as log:
        log.write(f"\n$ {shlex.join(cmd)}\n".encode())
        log.flush()
        try:
            proc = subprocess.run(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=cwd,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise Unavailable(f"{cmd[0]} timed out after {timeout_s:.0f}s; see {log_path}") from exc
    if proc.returncode != 0:
        raise Unavailable(
            f"`{shlex.join(cmd[:4])} ...` exited {proc.returncode}; see {log_path}:\n"
            f"{log_tail(log_path)}"
        )


def purelib(python: Path) -> str:
    """The site-packages folder of ``python``'s environment."""
    code = "import sysconfig; print(sysconfig.get_path('purelib'))"
    out = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return out.stdout.strip()


def venv_ok(python: Path, modules: str, timeout_s: float) -> bool:
    """Whether ``python`` exists and imports ``modules`` (comma-separated)."""
    if not python.exists():
        return False
    probe = subprocess.run(
        [str(python), "-c", f"import {modules}"],
        capture_output=True,
        timeout=timeout_s,
        check=False,
    )
    return probe.returncode == 0


# ---------------------------------------------------------------------------------------------
# Server processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def start_process(
    argv: list[str], env: dict[str, str] | None, log_path: Path
) -> subprocess.Popen[bytes]:
    """``argv`` from the repository root in a session and process group of its own (its pid
    is the group's id), stdout and stderr into ``log_path``."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=REPO_ROOT,
            start_new_session=True,
        )


def stop_process(proc: subprocess.Popen[bytes], grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM the process and the group it leads, then SIGKILL if needed."""
    pid = proc.pid
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            proc.wait()
    # Anything it left behind in its own group.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def stop_process_tree(proc: subprocess.Popen[bytes], grace_s: float = STOP_GRACE_S) -> None:
    """``stop_process``, then SIGKILL every process that was below it, also those that left its
    group (Ray's workers, an aimaas training worker)."""
    left = descendants(proc.pid)
    stop_process(proc, grace_s)
    for pid in left | descendants(proc.pid):
        if pid != proc.pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


# ---------------------------------------------------------------------------------------------
# CPU accounting (Linux /proc)


def _stat_fields(text: str) -> list[str]:
    """The fields of a /proc/<pid>/stat line after the command name: [0] is field 3, state."""
    return text.rsplit(")", 1)[1].split()


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid``."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            parents[int(stat.parent.name)] = int(_stat_fields(stat.read_text())[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def process_cpu_seconds(pids: set[int]) -> float:
    """User+system CPU seconds of the live processes ``pids``."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = _stat_fields(Path(f"/proc/{pid}/stat").read_text())
            total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def group_cpu_seconds(pgid: int) -> tuple[float, float]:
    """User+system CPU seconds of the live processes in a process group, and of its leader
    alone."""
    total = leader = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = _stat_fields(stat.read_text())
            if int(fields[2]) == pgid:
                ticks = int(fields[11]) + int(fields[12])
                total += ticks
                if stat.parent.name == str(pgid):
                    leader = ticks
    return total / CLK_TCK, leader / CLK_TCK


def machine_busy_seconds() -> float:
    """CPU seconds all cores have spent not idle since boot (/proc/stat)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        return (sum(ticks) - ticks[3] - ticks[4]) / CLK_TCK
    return 0.0


def client_cpu_seconds() -> float:
    """User+system CPU seconds of this process (the client)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def wait_for_quiet(
    max_wait_s: float, threshold_pct: float, sample_s: float, indent: str = "  "
) -> float:
    """Sample the machine's busy CPU over ``sample_s`` (the server under test idle) until it is
    below ``threshold_pct`` of all cores or ``max_wait_s`` has passed; the last share seen. On a
    small shared machine anything else running (a build, a test suite) wrecks the numbers."""
    deadline = time.monotonic() + max_wait_s
    cores = os.cpu_count() or 1
    while True:
        before = machine_busy_seconds()
        time.sleep(sample_s)
        busy = 100 * (machine_busy_seconds() - before) / (sample_s * cores)
        if busy < threshold_pct or time.monotonic() > deadline:
            break
    if busy >= threshold_pct and max_wait_s > 0:
        print(f"{indent}machine still {busy:.0f}% busy after {max_wait_s:.0f}s; measuring anyway")
    return busy


# ---------------------------------------------------------------------------------------------
# Statistics


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (as numpy's default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def median_of(values: Sequence[float | None], digits: int) -> float | None:
    """The median of the values present, rounded; None if there are none."""
    present = [v for v in values if v is not None]
    return round(statistics.median(present), digits) if present else None


def ms(seconds: float | None, digits: int) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, digits)


def ratio(num: float | None, den: float | None, digits: int) -> float | None:
    return None if num is None or not den else round(num / den, digits)


# ---------------------------------------------------------------------------------------------
# Reporting


def fmt(value: float | int | None, digits: int = 1) -> str:
    """A table cell: "-" for None, a float to ``digits`` places, an int as it is."""
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def render_table(headers: list[str], rows: list[list[str]]) -> str:
    """Aligned columns: the first left-aligned, the others right-aligned."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def host_info() -> dict[str, Any]:
    """The CPU model, core count, the SIMD flags that matter to inference, Python, platform."""
    model, flags = platform.processor() or "?", set[str]()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "cpu_flags": [f for f in CPU_FLAGS if f in flags],
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


# ---------------------------------------------------------------------------------------------
# The aimaas API


def env_for_aimaas(data_dir: Path, settings: dict[str, str] | None = None) -> dict[str, str]:
    """A clean aimaas environment: only the benchmark's settings (``settings`` added), unless
    exported (an ``AIMAAS_*`` variable you export wins)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIMAAS_")}
    defaults = {
        "AIMAAS_DATA_DIR": str(data_dir),
        "AIMAAS_ENGINE__DEFAULT_MODELS": "false",
        "AIMAAS_SERVER__ACCESS_LOG": "false",
        **(settings or {}),
    }
    exported = {k: v for k, v in os.environ.items() if k.startswith("AIMAAS_")}
    return env | defaults | exported


def http_json(
    method: str,
    url: str,
    key: str | None,
    body: Any = None,
    raw: bytes | None = None,
    content_type: str = "application/json",
    timeout: float = 120,
) -> tuple[int, Any]:
    """One request (JSON ``body`` or ``raw`` bytes); the status and the decoded JSON answer
    (the text where it is not JSON)."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", content_type)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        payload = exc.read()
        with contextlib.suppress(ValueError):
            return exc.code, json.loads(payload)
        return exc.code, payload.decode(errors="replace")


def multipart(filename: str, content: bytes, fields: dict[str, str]) -> tuple[bytes, str]:
    """A multipart/form-data body of ``fields`` and one file; the body and its content type."""
    boundary = "----aimaasbench" + os.urandom(8).hex()
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        )
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    )
    body = "".join(parts).encode() + head.encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


# ---------------------------------------------------------------------------------------------
# Command-line arguments


def parse_int_list(text: str) -> list[int]:
    values = [int(v) for v in text.split(",") if v.strip()]
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value

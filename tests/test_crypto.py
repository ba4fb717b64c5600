"""Encryption at rest: the sealed format (AES-256-GCM in chunks) and the key wrap (the
store's integrity errors: tests/registry/store/test_sealed.py; rotation: test_rotation.py;
tests/e2e/test_encryption.py runs it live)."""

from __future__ import annotations

import io
import json
import os
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from aimaas import crypto
from aimaas.config import Settings
from aimaas.crypto import IntegrityError, MasterKey
from aimaas.registry.store import Owner

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

"""Envelope encryption at rest: AES-256-GCM (the ``cryptography`` package).

Every stored artifact gets its own random 256-bit data key. The content is sealed in
chunks, and the data key is wrapped by the master key; the wrapped key lives in the
registry (``data_keys``), the sealed bytes in the artifact store.

Sealed stream format (version 1)::

    header  = b"AIMAASE1" || u32 chunk_size || 16 random bytes (stream id)  (28 bytes)
    chunk i = nonce (12 random bytes) || AES-GCM(plaintext_i) || tag (16 bytes)

Every chunk holds exactly ``chunk_size`` plaintext bytes except the last, which holds
0..chunk_size (an empty artifact is one empty final chunk). Each chunk's associated data
is ``header || len(context) || context || u64 index || u8 final``, so a chunk moved to
another position, a stream cut at a chunk boundary, a chunk appended after the final one,
a chunk of another stream (even under the same key: the stream id), a changed header or a
stream sealed for another owner (``context``: tenant, model and version, or tenant and
file) all fail authentication. A reader holds at most two chunks.

A wrapped data key is ``nonce (12) || AES-GCM(master key, data key) || tag (16)``
(60 bytes), its associated data binding the owner context, the content's digest and the
object it seals, so a key row copied onto another row does not open either.

The master key is 32 random bytes given as base64 (``AIMAAS_SECURITY__MASTER_KEY``) or in
a file (``AIMAAS_SECURITY__MASTER_KEY_FILE``); its id (a hash of it) is recorded with each
wrapped key so that a wrong key is recognised as such rather than as corruption.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

if TYPE_CHECKING:
    from aimaas.config import SecuritySettings

MAGIC = b"AIMAASE1"
HEADER = struct.Struct(">8sI16s")  # magic, chunk size, stream id
CHUNK_SIZE = 1 << 20
MAX_CHUNK_SIZE = 64 << 20
NONCE_BYTES = 12
TAG_BYTES = 16
KEY_BYTES = 32
WRAPPED_BYTES = NONCE_BYTES + KEY_BYTES + TAG_BYTES
_INDEX = struct.Struct(">QB")
_WRAP_LABEL = b"aimaas/data-key/v1\0"
_ID_LABEL = b"aimaas/master-key-id/v1\0"


class IntegrityError(Exception):
    """Sealed bytes or a wrapped key that do not authenticate: corrupted, truncated,
    reordered, sealed for another owner, or under another key."""


class MasterKeyError(ValueError):
    """A master key that cannot be used (wrong length, not base64, unreadable file)."""


def _length_prefixed(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


class MasterKey:
    """The key that wraps data keys. Its bytes never appear in ``repr`` or messages."""

    __slots__ = ("_aead", "id")

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise MasterKeyError(f"A master key is {KEY_BYTES} bytes; this one is {len(key)}.")
        self._aead = AESGCM(key)
        self.id = hashlib.sha256(_ID_LABEL + key).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"MasterKey(id={self.id})"

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(os.urandom(KEY_BYTES))

    @classmethod
    def from_base64(cls, text: str) -> MasterKey:
        try:
            key = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise MasterKeyError(
                "The master key is not valid base64 (of 32 random bytes)."
            ) from None
        return cls(key)

    @classmethod
    def from_file(cls, path: Path) -> MasterKey:
        """A key file holds the base64 of 32 bytes (as ``new_key_text`` writes it)."""
        try:
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise MasterKeyError(f"Cannot read the master key file {path}: {exc}") from None
        return cls.from_base64(text)

    def wrap(self, data_key: bytes, context: bytes) -> bytes:
        if len(data_key) != KEY_BYTES:
            raise ValueError("a data key is 32 bytes")
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, data_key, _WRAP_LABEL + context)

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        if len(wrapped) != WRAPPED_BYTES:
            raise IntegrityError("the wrapped data key has the wrong length")
        try:
            key = self._aead.decrypt(
                wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _WRAP_LABEL + context
            )
        except InvalidTag:
            raise IntegrityError("the data key does not unwrap under this master key") from None
        return key


def load_master_key(settings: SecuritySettings) -> MasterKey | None:
    """The configured master key, or None (no encryption at rest)."""
    if settings.master_key is not None:
        return MasterKey.from_base64(settings.master_key.get_secret_value())
    if settings.master_key_file is not None:
        return MasterKey.from_file(settings.master_key_file)
    return None


def new_key_text() -> str:
    """A fresh master key as base64 text (what a key file or the variable holds)."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def sealed_size(plain_size: int, chunk_size: int = CHUNK_SIZE) -> int:
    chunks = max(1, -(-plain_size // chunk_size))
    return HEADER.size + plain_size + chunks * (NONCE_BYTES + TAG_BYTES)


def _rechunk(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    """The concatenated input as pieces of exactly ``size`` bytes but the last, which has
    1..size bytes (or 0 when the input is empty: there is always at least one piece)."""
    pending = bytearray()
    yielded = False
    for chunk in chunks:
        view = memoryview(chunk).cast("B")
        if pending:
            take = size - len(pending)
            pending += view[:take]
            view = view[take:]
            if len(pending) < size:
                continue
            yield bytes(pending)
            pending.clear()
            yielded = True
        while len(view) >= size:
            yield bytes(view[:size])
            view = view[size:]
            yielded = True
        pending += view
    if pending or not yielded:
        yield bytes(pending)


def encrypt_chunks(
    data_key: bytes, context: bytes, chunks: Iterable[bytes], *, chunk_size: int = CHUNK_SIZE
) -> Iterator[bytes]:
    """The sealed stream of the concatenated ``chunks``: the header, then one sealed chunk
    at a time (the input is read one chunk ahead, to know which piece is the last)."""
    if not 0 < chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError("chunk size out of range")
    aead = AESGCM(data_key)
    header = HEADER.pack(MAGIC, chunk_size, os.urandom(16))
    prefix = header + _length_prefixed(context)
    yield header
    pieces = _rechunk(chunks, chunk_size)
    current = next(pieces)
    index = 0
    for following in pieces:
        if len(current) != chunk_size:  # pragma: no cover - _rechunk guarantees it
            raise AssertionError("only the last piece is short")
        yield _seal(aead, prefix, index, False, current)
        current, index = following, index + 1
    yield _seal(aead, prefix, index, True, current)


def _seal(aead: AESGCM, prefix: bytes, index: int, final: bool, plain: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + aead.encrypt(nonce, plain, prefix + _INDEX.pack(index, final))


def _read_exactly(read: Callable[[int], bytes], size: int) -> bytes:
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        part = read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def decrypt_chunks(
    data_key: bytes, context: bytes, read: Callable[[int], bytes]
) -> Iterator[bytes]:
    """The plaintext of a sealed stream, one authenticated chunk at a time; IntegrityError
    as soon as something does not authenticate (nothing of a bad chunk is yielded)."""
    header = _read_exactly(read, HEADER.size)
    if len(header) != HEADER.size:
        raise IntegrityError("the sealed stream is shorter than its header")
    magic, chunk_size, _stream = HEADER.unpack(header)
    if magic != MAGIC or not 0 < chunk_size <= MAX_CHUNK_SIZE:
        raise IntegrityError("the sealed stream has no valid header")
    aead = AESGCM(data_key)
    prefix = header + _length_prefixed(context)
    record = NONCE_BYTES + chunk_size + TAG_BYTES
    current = _read_exactly(read, record)
    index = 0
    while True:
        if len(current) < NONCE_BYTES + TAG_BYTES:
            raise IntegrityError("the sealed stream is truncated")
        following = _read_exactly(read, record) if len(current) == record else b""
        final = not following
        try:
            plain = aead.decrypt(
                current[:NONCE_BYTES], current[NONCE_BYTES:], prefix + _INDEX.pack(index, final)
            )
        except InvalidTag:
            raise IntegrityError(
                f"chunk {index} of the sealed stream does not authenticate"
            ) from None
        yield plain
        if final:
            return
        current, index = following, index + 1


def encrypt(data_key: bytes, context: bytes, data: bytes, *, chunk_size: int = CHUNK_SIZE) -> bytes:
    return b"".join(encrypt_chunks(data_key, context, [data], chunk_size=chunk_size))


def decrypt(data_key: bytes, context: bytes, sealed: bytes) -> bytes:
    view = memoryview(sealed)
    position = 0

    def read(size: int) -> bytes:
        nonlocal position
        part = bytes(view[position : position + size])
        position += len(part)
        return part

    return b"".join(decrypt_chunks(data_key, context, read))

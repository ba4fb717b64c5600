"""The lines of an uploaded text file (CSV, JSONL), decoded as UTF-8 block by block: a line
longer than the limit is refused without being held whole, and every error names its line."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

from aimaas.uploads.limits import UploadLimits
from aimaas.uploads.refusal import refused


def text_lines(path: Path, limits: UploadLimits) -> Iterator[str]:
    """The file's lines, decoded, each with its newline (a leading BOM dropped)."""
    return itertools.chain.from_iterable(_line_blocks(path, limits))


def _line_blocks(path: Path, limits: UploadLimits) -> Iterator[list[str]]:
    longest = limits.max_line_bytes
    with path.open("rb") as stream:
        before = 0  # lines before the block
        carry = b""  # a line not ended in the previous block
        while block := stream.read(limits.read_block_bytes):
            data = carry + block
            cut = data.rfind(b"\n") + 1
            carry, data = data[cut:], data[:cut]
            if len(carry) > longest:
                raise _too_long(before + data.count(b"\n") + 1, longest)
            if data:
                yield _decode_lines(data, before, longest)
                before += data.count(b"\n")
        if carry:
            yield _decode_lines(carry, before, longest)


def _too_long(line: int, longest: int) -> Exception:
    return refused(
        f"Line {line} is longer than {longest} bytes; split it or check that the file uses "
        "newlines."
    )


def _decode_lines(data: bytes, before: int, longest: int) -> list[str]:
    parts = data.split(b"\n")
    widest = max(map(len, parts))
    if widest > longest:
        raise _too_long(
            before + 1 + next(i for i, p in enumerate(parts) if len(p) == widest), longest
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = before + data.count(b"\n", 0, exc.start) + 1
        raise refused(f"Line {line} is not UTF-8 text; save the file as UTF-8.") from None
    if before == 0:
        text = text.removeprefix("\ufeff")
    lines = text.split("\n")
    last = lines.pop()  # "" after a final newline, else a line without one
    ended = [line + "\n" for line in lines]
    return [*ended, last] if last else ended

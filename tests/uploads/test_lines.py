"""Text lines read block by block: numbers that hold across blocks, UTF-8 errors that name
their line."""

from __future__ import annotations

from pathlib import Path

from aimaas.uploads.datasets import inspect_upload, read_dataset
from aimaas.uploads.limits import UploadLimits
from aimaas.uploads.lines import text_lines
from tests.uploads import refused, write


def test_line_numbers_hold_across_read_blocks(tmp_path: Path) -> None:
    """Files are read in blocks; lines that straddle blocks keep their numbers."""
    small = UploadLimits(read_block_bytes=1000, batch_rows=7)  # 1 MiB and 8192 by default
    body = "a,b,label\r\n" + "1.25,2,cat\r\n" * 3000  # CRLF
    path = write(tmp_path, body + "4,5,dog", "big.csv")  # no final newline
    summary = inspect_upload(path, "big.csv", limits=small)
    assert summary.rows == 3001
    dataset = read_dataset(path, summary, target="label", limits=small)
    assert dataset.features is not None and dataset.features.shape == (3001, 2)
    assert dataset.features[-1].tolist() == [4, 5] and dataset.features[0].tolist() == [1.25, 2]
    assert dataset.targets is not None and dataset.targets[-1] == "dog"
    refused(write(tmp_path, body + "4,x,dog\r\n", "bad.csv"), "'b'", "line 3002", limits=small)
    latin = write(tmp_path, body.encode() + b"4,\xff,dog\n", "latin.csv")
    refused(latin, "line 3002", limits=small)
    refused(write(tmp_path, body + "4,5\n", "ragged.csv"), "line 3002", limits=small)
    jsonl = '{"text": "a"}\n' * 3000 + '{"txt": "b"}\n'
    refused(write(tmp_path, jsonl, "t.jsonl"), "line 3001", "'text'", limits=small)


def test_csv_not_utf8(tmp_path: Path) -> None:
    latin1 = "a,b\n" + "1,2\n" * 20 + "café,3\n"
    refused(write(tmp_path, latin1.encode("latin-1")), "line 22", "utf-8")


def test_lines_keep_their_newlines_and_lose_the_bom(tmp_path: Path) -> None:
    path = write(tmp_path, "\ufeffa\r\nb\n\nc")
    assert list(text_lines(path, UploadLimits(read_block_bytes=2))) == ["a\r\n", "b\n", "\n", "c"]

"""Helpers for the upload tests: writing data files and asserting their refusals."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from aimaas.errors import InvalidInput
from aimaas.uploads.datasets import inspect_upload, read_dataset
from aimaas.uploads.limits import UploadLimits


def write(tmp_path: Path, content: str | bytes, name: str = "upload") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def refused(
    path: Path, *words: str, param: str = "file", limits: UploadLimits = UploadLimits()
) -> str:
    with pytest.raises(InvalidInput) as caught:
        inspect_upload(path, path.name, limits=limits)
    assert caught.value.param == param
    message = caught.value.message
    for word in words:
        assert word.lower() in message.lower(), message
    assert str(path.parent) not in message  # never a server path
    return message


def read_refused(path: Path, target: str | None, *words: str, param: str = "target") -> None:
    summary = inspect_upload(path, path.name)
    with pytest.raises(InvalidInput) as caught:
        read_dataset(path, summary, target=target)
    assert caught.value.param == param
    for word in words:
        assert word.lower() in caught.value.message.lower(), caught.value.message


def png(size: tuple[int, int] = (4, 3), mode: str = "L", value: int = 0, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    color: Any = value if mode == "L" else (value, 255 - value, 7)
    Image.new(mode, size, color=color).save(buffer, fmt)
    return buffer.getvalue()


def make_zip(tmp_path: Path, entries: dict[str, bytes], name: str = "images.zip") -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry, content in entries.items():
            archive.writestr(entry, content)
    return path


def two_classes() -> dict[str, bytes]:
    return {
        "cat/1.png": png(value=10),
        "cat/2.png": png(value=20),
        "dog/1.png": png(value=30),
    }

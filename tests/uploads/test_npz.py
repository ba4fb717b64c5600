"""NPZ uploads: x and y read as tensors; object arrays, NaN, mismatched rows and truncated
arrays refused before np.load ever runs."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from aimaas.uploads.datasets import inspect_upload, read_dataset
from aimaas.uploads.npz import NpzSummary
from tests.uploads import make_zip, refused


def test_npz_with_and_without_y(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    x = np.arange(24, dtype=np.float64).reshape(3, 2, 4)
    np.savez(path, x=x, y=np.array(["a", "b", "a"]))
    summary = inspect_upload(path, "d.npz")
    assert isinstance(summary, NpzSummary)
    assert summary.format == "npz" and summary.x_shape == [3, 2, 4]
    assert summary.y_shape == [3] and summary.rows == 3
    json.dumps(summary.model_dump())
    dataset = read_dataset(path, summary, target=None)
    assert dataset.kind == "tensor" and dataset.features is not None
    assert dataset.features.dtype == np.float32 and dataset.features.shape == (3, 2, 4)
    assert dataset.targets is not None and dataset.targets.tolist() == ["a", "b", "a"]

    compressed = tmp_path / "c.npz"
    np.savez_compressed(compressed, x=np.ones((5, 3), dtype=np.int32))
    summary = inspect_upload(compressed, "c.npz")
    assert isinstance(summary, NpzSummary) and summary.y_shape is None
    assert read_dataset(compressed, summary, target=None).targets is None


def test_npz_pickled_object_array_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.npz"
    np.savez(path, x=np.array([{"a": 1}, None], dtype=object))
    refused(path, "'x'", "python objects")
    other = tmp_path / "evil_y.npz"
    np.savez(other, x=np.ones((2, 2)), y=np.array([1, "a"], dtype=object))
    refused(other, "'y'", "python objects")


@pytest.mark.parametrize(
    ("arrays", "words"),
    [
        ({"x": np.ones((3, 2)), "y": np.ones(2)}, ["3 rows", "2"]),
        ({"x": np.array([[1.0, np.nan]]), "y": np.ones(1)}, ["'x'", "nan"]),
        ({"x": np.ones((1, 2)), "y": np.array([np.inf])}, ["'y'", "nan or infinity"]),
        ({"features": np.ones((2, 2))}, ["no array 'x'", "'features'"]),
        ({"x": np.ones((2, 2)), "y": np.ones((2, 3))}, ["'y'", "[n]"]),
        ({"x": np.ones(2, dtype=np.complex64)}, ["dtype"]),
        ({"x": np.array([1e300, 1.0])}, ["float32"]),
        ({"x": np.float64(3.0)}, ["at least one row"]),
    ],
    ids=["length", "nan-x", "inf-y", "no-x", "y-2d", "complex", "float32-range", "scalar"],
)
def test_npz_problems(tmp_path: Path, arrays: dict[str, np.ndarray], words: list[str]) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)  # type: ignore[arg-type]
    refused(path, *words)


def test_npz_truncated_array(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.ones((10, 10)))
    path = make_zip(tmp_path, {"x.npy": buffer.getvalue()[:-16]}, "cut.npz")
    refused(path, "'x'", "truncated")

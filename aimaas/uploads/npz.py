"""NPZ uploads (``np.savez(path, x=features, y=targets)``): each array's .npy header read by
hand and its values checked while they stream past; ``np.load`` runs only on a checked file,
with ``allow_pickle=False``."""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np
from numpy.lib import format as npy_format
from pydantic import BaseModel, ConfigDict

from aimaas.errors import InvalidInput
from aimaas.uploads.archives import Budget, checked_entries, open_zip, zip_errors
from aimaas.uploads.dataset import Dataset
from aimaas.uploads.limits import UploadLimits
from aimaas.uploads.refusal import refused

_FLOAT32_MAX = float(np.finfo(np.float32).max)


class NpzSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    format: Literal["npz"] = "npz"
    rows: int
    x_shape: list[int]
    x_dtype: str
    y_shape: list[int] | None = None
    y_dtype: str | None = None


def is_npz(entries: list[zipfile.ZipInfo]) -> bool:
    return bool(entries) and all(e.filename.endswith(".npy") for e in entries)


def _npy_header(stream: BinaryIO, name: str) -> tuple[tuple[int, ...], np.dtype[Any]]:
    try:
        version = npy_format.read_magic(stream)
        if version == (1, 0):
            shape, _, dtype = npy_format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, _, dtype = npy_format.read_array_header_2_0(stream)
        else:
            raise refused(f"Array {name!r} uses .npy version {version}; save with np.savez.")
    except InvalidInput:
        raise
    except (ValueError, TypeError, SyntaxError) as exc:
        raise refused(
            f"Array {name!r} is not a valid .npy array ({exc}); save with np.savez."
        ) from None
    return tuple(int(n) for n in shape), dtype


def _check_npy(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    name: str,
    kinds: str,
    budget: Budget,
    limits: UploadLimits,
) -> tuple[list[int], str]:
    """Shape and dtype of one array, its values checked while they stream past."""
    with archive.open(info) as stream:
        shape, dtype = _npy_header(stream, name)  # type: ignore[arg-type]
        if dtype.hasobject:
            raise refused(
                f"Array {name!r} holds Python objects, which would need unpickling; save "
                "numeric (or, for y, string) arrays."
            )
        if dtype.kind not in kinds or dtype.fields is not None or dtype.subdtype is not None:
            raise refused(f"Array {name!r} has dtype {dtype.str}; save it as numbers.")
        nbytes = math.prod(shape) * dtype.itemsize
        if stream.tell() + nbytes != info.file_size:
            raise refused(f"Array {name!r} is truncated or has extra bytes; save it again.")
        itemsize = max(dtype.itemsize, 1)
        step = max(1, limits.read_block_bytes // itemsize) * itemsize
        left = nbytes
        while left:
            chunk = stream.read(min(step, left))
            if not chunk:
                raise refused(f"Array {name!r} is truncated; save it again.")
            budget.take(len(chunk), info)
            left -= len(chunk)
            if dtype.kind == "f":
                values = np.frombuffer(chunk, dtype=dtype)
                if not np.isfinite(values).all():
                    raise refused(f"Array {name!r} holds NaN or infinity; clean the data.")
                if name == "x" and values.size and float(np.abs(values).max()) > _FLOAT32_MAX:
                    raise refused("Array 'x' holds values beyond the float32 range; scale them.")
    return list(shape), dtype.str


def _npz_arrays(entries: list[zipfile.ZipInfo]) -> dict[str, zipfile.ZipInfo]:
    arrays = {e.filename.removesuffix(".npy"): e for e in entries}
    if "x" not in arrays:
        found = ", ".join(repr(n[:64]) for n in list(arrays)[:20])
        raise refused(
            f"The NPZ has no array 'x' (it has {found}); save np.savez(path, x=features, "
            "y=targets)."
        )
    return arrays


def inspect_npz(
    archive: zipfile.ZipFile, entries: list[zipfile.ZipInfo], limits: UploadLimits
) -> NpzSummary:
    arrays = _npz_arrays(entries)
    budget = Budget(limits.max_uncompressed_bytes)
    x_shape, x_dtype = _check_npy(archive, arrays["x"], "x", "biuf", budget, limits)
    if not x_shape or x_shape[0] == 0:
        raise refused("Array 'x' needs a first dimension with at least one row: [N, ...].")
    if "y" not in arrays:
        return NpzSummary(rows=x_shape[0], x_shape=x_shape, x_dtype=x_dtype)
    y_shape, y_dtype = _check_npy(archive, arrays["y"], "y", "biufU", budget, limits)
    if len(y_shape) != 1:
        raise refused(f"Array 'y' has shape {y_shape}; it must be [N]: one target per row.")
    if y_shape[0] != x_shape[0]:
        raise refused(f"'x' has {x_shape[0]} rows but 'y' has {y_shape[0]}; they need one each.")
    return NpzSummary(
        rows=x_shape[0], x_shape=x_shape, x_dtype=x_dtype, y_shape=y_shape, y_dtype=y_dtype
    )


def read_npz(path: Path, limits: UploadLimits) -> Dataset:
    with zip_errors():
        with open_zip(path, limits) as archive:
            _npz_arrays(checked_entries(archive, limits))
        with np.load(path, allow_pickle=False) as npz:
            features = np.asarray(npz["x"]).astype(np.float32)
            targets = np.asarray(npz["y"]) if "y" in npz.files else None
    return Dataset(kind="tensor", features=features, targets=targets)

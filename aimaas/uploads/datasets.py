"""Uploaded data files: ``inspect_upload`` checks one on upload and answers its summary (the
registry keeps it as the file's ``details``); ``read_dataset`` reads a stored file for a job.

Four formats: CSV with a header row, NPZ (``np.savez(path, x=..., y=...)``), JSONL (one
``{"text": ..., "label": ...}`` object per line) and a zip of image folders (one folder per
class), judged from the content.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError

from aimaas.uploads.archives import checked_entries, open_zip, zip_errors
from aimaas.uploads.csv_table import CsvSummary, inspect_csv, read_csv
from aimaas.uploads.dataset import Dataset
from aimaas.uploads.image_folders import (
    ImageFoldersSummary,
    inspect_image_folders,
    read_image_folders,
)
from aimaas.uploads.jsonl import JsonlSummary, inspect_jsonl, read_jsonl
from aimaas.uploads.limits import UploadLimits
from aimaas.uploads.npz import NpzSummary, inspect_npz, is_npz, read_npz
from aimaas.uploads.refusal import refused
from aimaas.uploads.sniff import DATA_FORMATS_HINT, read_head, sniff_data

DataSummary = Annotated[
    CsvSummary | NpzSummary | JsonlSummary | ImageFoldersSummary, Field(discriminator="format")
]
_SUMMARY: TypeAdapter[DataSummary] = TypeAdapter(DataSummary)


def inspect_upload(
    path: Path, filename: str, *, limits: UploadLimits = UploadLimits()
) -> DataSummary:
    """Check an uploaded data file and summarise it.

    The format is judged from the content; ``filename`` only sharpens an error message."""
    kind = sniff_data(read_head(path, DATA_FORMATS_HINT), filename)
    if kind == "csv":
        return inspect_csv(path, limits)
    if kind == "jsonl":
        return inspect_jsonl(path, limits)
    with zip_errors(), open_zip(path, limits) as archive:
        entries = checked_entries(archive, limits)
        if is_npz(entries):
            return inspect_npz(archive, entries, limits)
        return inspect_image_folders(archive, entries, limits)


def stored_summary(details: Mapping[str, Any]) -> DataSummary:
    """The summary ``inspect_upload`` gave, from the ``details`` the registry kept."""
    try:
        return _SUMMARY.validate_python(details)
    except ValidationError:
        raise refused(f"The file's format is unknown; {DATA_FORMATS_HINT}.") from None


def read_dataset(
    path: Path, summary: DataSummary, *, target: str | None, limits: UploadLimits = UploadLimits()
) -> Dataset:
    """Read a stored upload that ``inspect_upload`` summarised.

    ``target`` names the CSV column to predict (required for CSV, ignored otherwise)."""
    if isinstance(summary, CsvSummary):
        return read_csv(path, summary, target, limits)
    if isinstance(summary, NpzSummary):
        return read_npz(path, limits)
    if isinstance(summary, JsonlSummary):
        return read_jsonl(path, limits)
    return read_image_folders(path, summary, limits)

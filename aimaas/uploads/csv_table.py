"""CSV uploads: a header row naming the columns, then one row of values per line. Every
column but one (the target, chosen when a job reads the file) must hold finite numbers."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from aimaas.errors import InvalidInput
from aimaas.uploads.dataset import Dataset
from aimaas.uploads.limits import UploadLimits
from aimaas.uploads.lines import text_lines
from aimaas.uploads.refusal import refused

Batch = tuple[list[int], list[tuple[str, ...]]]  # line numbers, one tuple of cells per column


class CsvSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    format: Literal["csv"] = "csv"
    rows: int
    columns: list[str]
    numeric_columns: list[str]  # all but at most one: the only column that can be the target


def _csv_rows(path: Path, limits: UploadLimits) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) per non-blank row, the header first."""
    reader = csv.reader(text_lines(path, limits), strict=True)
    try:
        for row in reader:
            if row:
                yield reader.line_num, row
    except csv.Error as exc:
        raise refused(
            f"Line {reader.line_num} is not valid CSV ({exc}); fix its quoting."
        ) from None


def _cell_problem(cell: str) -> str | None:
    """Why a cell cannot be a feature value, or None for a finite number."""
    try:
        value = float(cell)
    except ValueError:
        return "an empty cell" if not cell.strip() else f"the non-numeric value {cell[:40]!r}"
    return None if math.isfinite(value) else f"{cell.strip()[:40]!r} (NaN or infinity)"


def _check_header(columns: list[str], limits: UploadLimits) -> None:
    if len(columns) > limits.max_csv_columns:
        raise refused(
            f"The header has {len(columns)} columns; at most {limits.max_csv_columns} are accepted."
        )
    if len(columns) < 2:
        raise refused(
            "A CSV needs at least two comma-separated columns (features and a target) and a "
            "header row naming them."
        )
    for index, name in enumerate(columns, 1):
        if not name:
            raise refused(f"Column {index} of the header (line 1) has no name; name every column.")
    if all(_cell_problem(name) is None for name in columns):
        raise refused(
            "The first line holds only numbers; add a header row naming the columns "
            "(e.g. 'f1,f2,label')."
        )
    seen: set[str] = set()
    for name in columns:
        if name in seen:
            raise refused(f"The header names column {name[:64]!r} twice; make the names unique.")
        seen.add(name)


def _csv_table(path: Path, limits: UploadLimits) -> tuple[list[str], Iterator[Batch]]:
    """The checked header, and the rows in batches."""
    rows = _csv_rows(path, limits)
    _, header = next(rows, (0, []))
    columns = [name.strip() for name in header]
    _check_header(columns, limits)

    def batches() -> Iterator[Batch]:
        lines: list[int] = []
        batch: list[list[str]] = []
        for line, row in rows:
            if len(row) != len(columns):
                raise refused(
                    f"Line {line} has {len(row)} values but the header has {len(columns)} "
                    "columns; every row needs one value per column."
                )
            lines.append(line)
            batch.append(row)
            if len(batch) == limits.batch_rows:
                yield lines, list(zip(*batch, strict=True))
                lines, batch = [], []
        if batch:
            yield lines, list(zip(*batch, strict=True))

    return columns, batches()


def _floats(cells: tuple[str, ...]) -> tuple[np.ndarray, None] | tuple[None, tuple[int, str]]:
    """The cells as finite float64s, or the index and problem of the first cell that is not."""
    try:
        values = np.array(cells, dtype=np.float64)
    except ValueError:
        pass
    else:
        if np.isfinite(values).all():
            return values, None
    for index, cell in enumerate(cells):
        problem = _cell_problem(cell)
        if problem is not None:
            return None, (index, problem)
    raise AssertionError("unreachable: a cell failed to parse but none has a problem")


def inspect_csv(path: Path, limits: UploadLimits) -> CsvSummary:
    columns, batches = _csv_table(path, limits)
    # Column index -> (line, problem) of its first cell that is not a finite number. Only one
    # column may have one: it can only be the target, every other column is a feature.
    suspect: dict[int, tuple[int, str]] = {}
    count = 0
    for lines, cells in batches:
        count += len(lines)
        found = []
        for index, column in enumerate(cells):
            if index not in suspect:
                _, bad = _floats(column)
                if bad is not None:
                    found.append((lines[bad[0]], index, bad[1]))
        for line, index, problem in sorted(found):
            if suspect:
                ((other, (other_line, other_problem)),) = suspect.items()
                raise refused(
                    f"Column {columns[index][:64]!r} has {problem} on line {line}, and column "
                    f"{columns[other][:64]!r} has {other_problem} on line {other_line}. Only "
                    "one column, the target, may hold text or missing values; feature columns "
                    "need finite numbers: encode categories as numbers, fill or drop gaps."
                )
            suspect[index] = (line, problem)
    if count == 0:
        raise refused("The CSV has a header but no data rows.")
    return CsvSummary(
        rows=count,
        columns=columns,
        numeric_columns=[name for i, name in enumerate(columns) if i not in suspect],
    )


def read_csv(path: Path, summary: CsvSummary, target: str | None, limits: UploadLimits) -> Dataset:
    columns, batches = _csv_table(path, limits)
    listing = ", ".join(repr(name[:64]) for name in columns[:50])
    if target is None:
        raise InvalidInput(
            f"A CSV dataset needs 'target': the column to predict, one of {listing}.",
            param="target",
        )
    if target not in columns:
        raise InvalidInput(
            f"No column {target[:64]!r} in the file; the columns are {listing}.", param="target"
        )
    numeric = set(summary.numeric_columns)
    text_features = [name for name in columns if name not in numeric and name != target]
    if text_features:
        raise InvalidInput(
            f"Column {text_features[0][:64]!r} is not all numbers, so it can only be the "
            f"target, not a feature next to target {target[:64]!r}; choose it as the target or "
            "encode it as numbers.",
            param="target",
        )
    at = columns.index(target)
    blocks: list[np.ndarray] = []
    labels: list[str] = []
    for lines, cells in batches:
        block = np.empty((len(lines), len(columns) - 1), dtype=np.float64)
        for slot, index in enumerate(i for i in range(len(columns)) if i != at):
            values, bad = _floats(cells[index])
            if bad is not None:
                raise InvalidInput(
                    f"Feature column {columns[index][:64]!r} has {bad[1]} on line "
                    f"{lines[bad[0]]}; features need finite numbers.",
                    param="target",
                )
            block[:, slot] = values
        for line, raw in zip(lines, cells[at], strict=True):
            label = raw.strip()
            if not label or label.lower() in ("nan", "+nan", "-nan"):
                raise InvalidInput(
                    f"The target column {target[:64]!r} is empty or NaN on line {line}; fill "
                    "or drop the rows without a target.",
                    param="target",
                )
            labels.append(label)
        blocks.append(block)
    features = np.concatenate(blocks) if blocks else np.empty((0, len(columns) - 1))
    return Dataset(
        kind="table",
        features=features,
        targets=_csv_targets(labels, target, target in numeric),
        feature_names=[name for name in columns if name != target],
        target_name=target,
    )


def _csv_targets(labels: list[str], target: str, numeric: bool) -> np.ndarray:
    if not numeric:
        return np.array(labels, dtype=str)
    values = np.array(labels, dtype=np.float64)
    if not np.isfinite(values).all():
        raise InvalidInput(f"The target column {target[:64]!r} holds infinity.", param="target")
    if np.all(values == np.round(values)) and np.all(np.abs(values) < 2**53):
        return values.astype(np.int64)
    return values

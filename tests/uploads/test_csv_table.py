"""CSV uploads: a header and numeric features read as a table, every shape problem refused
with a 400 that names the line or column and the fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aimaas.uploads.csv_table import CsvSummary
from aimaas.uploads.datasets import inspect_upload, read_dataset
from aimaas.uploads.limits import UploadLimits
from tests.uploads import read_refused, refused, write

LIMITS = UploadLimits()


def test_csv_with_text_target(tmp_path: Path) -> None:
    path = write(tmp_path, '\ufeffa, b ,label\r\n1,2.5,cat\r\n\r\n3,-4e2,"dog, big"\r\n')
    summary = inspect_upload(path, "x.csv")
    assert summary.model_dump() == {
        "format": "csv",
        "rows": 2,
        "columns": ["a", "b", "label"],
        "numeric_columns": ["a", "b"],
    }
    dataset = read_dataset(path, summary, target="label")
    assert dataset.kind == "table" and dataset.feature_names == ["a", "b"]
    assert dataset.features is not None and dataset.features.dtype == np.float64
    np.testing.assert_array_equal(dataset.features, [[1, 2.5], [3, -400]])
    assert dataset.targets is not None and dataset.targets.tolist() == ["cat", "dog, big"]
    assert dataset.target_name == "label"


def test_csv_numeric_targets_keep_their_kind(tmp_path: Path) -> None:
    path = write(tmp_path, "x,y,z\n1,0,0.5\n2,1,1.5\n")
    summary = inspect_upload(path, "x.csv")
    classes = read_dataset(path, summary, target="y")
    assert classes.targets is not None and classes.targets.dtype == np.int64
    assert classes.feature_names == ["x", "z"]
    values = read_dataset(path, summary, target="z")
    assert values.targets is not None and values.targets.dtype == np.float64
    assert values.targets.tolist() == [0.5, 1.5]


def test_csv_target_must_be_named_and_exist(tmp_path: Path) -> None:
    path = write(tmp_path, "x,y\n1,2\n")
    read_refused(path, None, "'target'", "'x'", "'y'")
    read_refused(path, "nope", "'nope'", "'x', 'y'")


def test_csv_text_column_can_only_be_the_target(tmp_path: Path) -> None:
    path = write(tmp_path, "x,kind,y\n1,red,2\n2,blue,3\n")
    summary = inspect_upload(path, "x.csv")
    assert isinstance(summary, CsvSummary) and summary.numeric_columns == ["x", "y"]
    read_refused(path, "y", "'kind'", "not all numbers")
    assert read_dataset(path, inspect_upload(path, "x.csv"), target="kind").kind == "table"


def test_csv_missing_or_nan_labels_are_refused_at_read(tmp_path: Path) -> None:
    read_refused(write(tmp_path, "x,y\n1,a\n2,\n", "empty.csv"), "y", "line 3", "empty or nan")
    read_refused(write(tmp_path, "x,y\n1,1\n2,NaN\n", "nan.csv"), "y", "line 3")


def test_csv_ragged_row_names_the_line(tmp_path: Path) -> None:
    refused(write(tmp_path, "a,b,c\n1,2,3\n4,5\n"), "line 3", "2 values", "3 columns")


def test_csv_second_non_numeric_column_names_column_and_line(tmp_path: Path) -> None:
    message = refused(write(tmp_path, "a,b,label\n1,2,cat\n1,x,dog\n"), "'b'", "line 3", "'x'")
    assert "'label'" in message and "line 2" in message


def test_csv_nan_and_inf_in_features_are_refused(tmp_path: Path) -> None:
    refused(write(tmp_path, "a,b,label\n1,2,cat\nnan,3,dog\n", "nan.csv"), "'a'", "nan")
    refused(write(tmp_path, "a,b,label\n1,inf,cat\n", "inf.csv"), "'b'", "infinity")
    refused(write(tmp_path, "a,b,label\n1,,cat\n", "gap.csv"), "'b'", "empty cell")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("a,b\n", ["no data rows"]),
        ("only\n1\n2\n", ["two", "columns"]),
        ("1,2,3\n4,5,6\n", ["header"]),
        ("a,,c\n1,2,3\n", ["column 2", "no name"]),
        ("a,a\n1,2\n", ["twice"]),
        ('a,b\n"1"x,2\n', ["line 2", "quoting"]),
    ],
    ids=["header-only", "one-column", "no-header", "unnamed", "duplicate", "bad-quote"],
)
def test_csv_shape_problems(tmp_path: Path, content: str, words: list[str]) -> None:
    refused(write(tmp_path, content), *words)


def test_csv_with_too_many_columns_or_a_huge_line(tmp_path: Path) -> None:
    header = ",".join(f"c{i}" for i in range(LIMITS.max_csv_columns + 1))
    refused(write(tmp_path, header + "\n", "wide.csv"), "columns", str(LIMITS.max_csv_columns))
    huge = "a,b\n1," + "9" * (LIMITS.max_line_bytes + 10) + "\n"
    refused(write(tmp_path, huge, "long.csv"), "line 2", "longer than")


def test_csv_limits_are_passed_in(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b,c\n1,2,3\n")
    refused(path, "3 columns", "at most 2", limits=UploadLimits(max_csv_columns=2))
    refused(path, "line 1", "longer than 4", limits=UploadLimits(max_line_bytes=4))

"""The data entry points: a stored summary read back from the registry's ``details``."""

from __future__ import annotations

from pathlib import Path

import pytest

from aimaas.errors import InvalidInput
from aimaas.uploads.datasets import inspect_upload, read_dataset, stored_summary
from tests.uploads import write


def test_unknown_format_in_details(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as caught:
        read_dataset(
            write(tmp_path, "a,b\n1,2\n"), stored_summary({"format": "parquet"}), target="b"
        )
    assert caught.value.param == "file"


def test_a_summary_survives_the_registry(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b\n1,x\n2,y\n")
    summary = inspect_upload(path, "d.csv")
    assert stored_summary(summary.model_dump()) == summary
    assert read_dataset(path, stored_summary(summary.model_dump()), target="b").targets is not None

"""model.json uploads: strict JSON checked by the spec reader serving uses; the size limit
is checked before the file is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from aimaas.errors import InvalidInput
from aimaas.runtime.model_uploads import inspect_model_upload
from aimaas.uploads.limits import UploadLimits
from tests.uploads.model_builders import refused_quickly, sparse, trained_files

# Each: (content, what the refusal says).
HOSTILE_DESCRIPTIONS: dict[str, tuple[bytes, str]] = {
    "json not a spec": (b'{"format": "aimaas.learn/1", "algorithm": "rm -rf"}', "not valid"),
    "json not an object": (b"{" * 10, "not valid JSON"),
}


@pytest.mark.parametrize("case", list(HOSTILE_DESCRIPTIONS))
def test_hostile_descriptions_are_refused(case: str, tmp_path: Path) -> None:
    refused_quickly(*HOSTILE_DESCRIPTIONS[case], tmp_path)


def test_a_trained_description_passes(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_bytes(trained_files()[1])
    summary = inspect_model_upload(path, "model.json")
    assert summary.model_dump() == {
        "format": "model.json",
        "algorithm": "mlp",
        "task": "classification",
        "optimization": None,
    }


def test_the_size_limit_is_checked_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big"
    sparse(path, UploadLimits().max_description_bytes + 1, b'{"format": "aimaas.learn/1"')
    with pytest.raises(InvalidInput, match="at most"):
        inspect_model_upload(path, "big")
    sparse(path, 101, b'{"format": "aimaas.learn/1"')
    with pytest.raises(InvalidInput, match="at most 100 are accepted"):
        inspect_model_upload(path, "big", limits=UploadLimits(max_description_bytes=100))

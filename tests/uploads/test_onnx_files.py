"""ONNX uploads: a good graph passes; external data, checker failures and malformed protobuf
are refused; the size limit is checked before the file is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from aimaas.errors import InvalidInput
from aimaas.runtime.model_uploads import inspect_model_upload
from aimaas.uploads.limits import UploadLimits
from tests.uploads.model_builders import onnx_model, refused_quickly, sparse

# Each: (content, what the refusal says).
HOSTILE_ONNX: dict[str, tuple[bytes, str]] = {
    "onnx external data": (onnx_model(external=True), "external"),
    "onnx fails the checker": (onnx_model(broken=True), "onnx.checker"),
    "onnx truncated": (onnx_model()[:-7], "not a well-formed ONNX"),
    "onnx bad wire type": (b"\x08\x0a\x3a\x02\x0a", "not a well-formed ONNX"),  # field 7 cut short
    "onnx graph missing": (b"\x08\x0a", "no graph"),
}


def test_a_good_graph_passes(tmp_path: Path) -> None:
    path = tmp_path / "w"
    path.write_bytes(onnx_model())
    assert inspect_model_upload(path, "w").format == "onnx"


@pytest.mark.parametrize("case", list(HOSTILE_ONNX))
def test_hostile_onnx_files_are_refused(case: str, tmp_path: Path) -> None:
    refused_quickly(*HOSTILE_ONNX[case], tmp_path)


def test_the_size_limit_is_checked_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big"
    sparse(path, UploadLimits().max_onnx_bytes + 1, onnx_model()[:16])
    with pytest.raises(InvalidInput, match="at most"):
        inspect_model_upload(path, "big")
    path.write_bytes(onnx_model())
    with pytest.raises(InvalidInput, match="at most 10 are accepted"):
        inspect_model_upload(path, "big", limits=UploadLimits(max_onnx_bytes=10))

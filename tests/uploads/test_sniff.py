"""The sniffers: formats judged by content, never by name; pickles refused unread, for data
and for model files alike."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from aimaas.uploads.datasets import inspect_upload
from aimaas.uploads.sniff import sniff_data, sniff_model
from tests.uploads import png, refused, write
from tests.uploads.model_builders import Marker, hostile_pickles, refusal, refused_quickly, zip_of

# Model uploads that are none of the four kinds. Each: (content, what the refusal says).
HOSTILE_OTHER: dict[str, tuple[bytes, str]] = {
    "empty": (b"", "empty"),
    "zip archive": (zip_of(**{"weights.bin": b"\0" * 64}), "Archives"),
    "png": (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "Unrecognised"),
    "text": (b"hello, world\n", "Unrecognised"),
}


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", ["empty"]),
        (b"  \n\n\t", ["whitespace"]),
        (b"\x00\x01\x02binary\xff", ["unrecognised"]),
        (b"\x80\x04\x95...pickle", ["pickle"]),
        (b"\x93NUMPY\x01\x00", ["np.savez"]),
        (png(), ["single image"]),
        (b"\x1f\x8b\x08\x00gzip", ["only zip"]),
        (b'[{"text": "a"}]', ["jsonl"]),
    ],
    ids=["empty", "whitespace", "binary", "pickle", "npy", "png", "gzip", "json-array"],
)
def test_unknown_formats_are_refused(tmp_path: Path, content: bytes, words: list[str]) -> None:
    refused(write(tmp_path, content), *words)


def test_format_is_judged_by_content_not_name(tmp_path: Path) -> None:
    path = write(tmp_path, '{"text": "hi"}\n', "data.csv")
    assert inspect_upload(path, "data.csv").format == "jsonl"


def test_for_data_text_wins_over_weak_model_signatures() -> None:
    """This CSV parses as three pickle opcodes, and 'B' is an ONNX field tag: still CSV."""
    assert sniff_data(b"c1,c2\n1,2\n00,1\n", "d.csv") == "csv"
    assert sniff_data(b"B,y\n1,2\n", "d.csv") == "csv"
    assert sniff_model(b"{}", "weights.bin") == "model.json"


@pytest.mark.parametrize("case", list(HOSTILE_OTHER))
def test_other_files_dressed_as_models_are_refused(case: str, tmp_path: Path) -> None:
    refused_quickly(*HOSTILE_OTHER[case], tmp_path)


def test_pickles_are_refused_and_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    for case, content in hostile_pickles(marker).items():
        for name in ("model.safetensors", "model.gguf", "model.onnx", "model.json"):
            error = refusal(content, tmp_path, name)
            assert "pickle" in error.message, (case, error.message)
    assert not marker.exists()
    pickle.loads(pickle.dumps(Marker(), protocol=5)).close()  # the marker works when unpickled
    assert marker.exists()

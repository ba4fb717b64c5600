"""Image uploads: a zip of class folders read as a uint8 tensor, every entry that is not an
image in a class folder refused by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aimaas.uploads.datasets import inspect_upload, read_dataset
from aimaas.uploads.image_folders import ImageFoldersSummary
from tests.uploads import make_zip, png, refused, two_classes


def test_image_folders(tmp_path: Path) -> None:
    path = make_zip(
        tmp_path,
        {
            "set/dog/b.png": png((4, 3), value=90),
            "set/cat/a.png": png((4, 3), value=10),
            "set/cat/c.jpg": png((8, 6), value=50, fmt="JPEG"),
            "__MACOSX/set/cat/._a.png": b"apple double",
            "set/.DS_Store": b"finder",
        },
    )
    summary = inspect_upload(path, "images.zip")
    assert summary.model_dump() == {
        "format": "images",
        "rows": 3,
        "classes": ["cat", "dog"],
        "class_counts": {"cat": 2, "dog": 1},
        "image_size": [3, 4],
        "mode": "L",
    }
    dataset = read_dataset(path, summary, target=None)
    assert dataset.kind == "images" and dataset.features is not None
    assert dataset.features.dtype == np.uint8 and dataset.features.shape == (3, 3, 4, 1)
    assert dataset.targets is not None and dataset.targets.tolist() == ["cat", "cat", "dog"]
    assert int(dataset.features[2].mean()) == 90  # sorted paths: set/dog/b.png is last


def test_one_colour_image_makes_the_set_rgb(tmp_path: Path) -> None:
    path = make_zip(tmp_path, {**two_classes(), "dog/2.png": png(mode="RGB", value=200)})
    summary = inspect_upload(path, "images.zip")
    assert isinstance(summary, ImageFoldersSummary) and summary.mode == "RGB"
    features = read_dataset(path, summary, target=None).features
    assert features is not None and features.shape == (4, 3, 4, 3)


@pytest.mark.parametrize(
    ("entries", "words"),
    [
        ({"a.png": png(), "b.png": png()}, ["class folder"]),
        ({"cat/a.png": png(), "cat/b.png": png()}, ["only 'cat'", "at least 2"]),
        ({**two_classes(), "dog/notes.txt": b"hi"}, ["dog/notes.txt", "png"]),
        ({**two_classes(), "dog/fake.png": b"GIF89a not really"}, ["dog/fake.png", "png or jpeg"]),
        ({**two_classes(), "dog/inner.zip": b"PK\x05\x06" + bytes(18)}, ["nested"]),
        ({**two_classes(), "dog/hidden.png": b"PK\x03\x04rest"}, ["nested"]),
        ({**two_classes(), "dog/deep/x.png": png()}, ["dog/deep/x.png", "class folder"]),
        ({**two_classes(), "dog/big.png": png((5000, 5000))}, ["dog/big.png", "pixels"]),
        ({"../cat/a.png": png(), "dog/b.png": png()}, ["../cat/a.png", "outside"]),
        ({"/etc/cat/a.png": png(), "dog/b.png": png()}, ["absolute"]),
        ({"cat\\..\\..\\a.png": png(), "dog/b.png": png()}, ["backslash"]),
    ],
    ids=[
        "no-folders",
        "one-class",
        "not-an-image",
        "gif",
        "nested-zip",
        "nested-by-content",
        "too-deep",
        "too-many-pixels",
        "dotdot",
        "absolute",
        "backslash",
    ],
)
def test_image_archive_problems(
    tmp_path: Path, entries: dict[str, bytes], words: list[str]
) -> None:
    refused(make_zip(tmp_path, entries), *words)

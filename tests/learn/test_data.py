"""Uploaded data: every format read as a Dataset, every hostile file refused with a 400 that
names the parameter, the problem and the fix."""

from __future__ import annotations

import io
import json
import stat
import struct
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from aimaas.errors import InvalidInput
from aimaas.learn import data
from aimaas.learn.data import inspect_upload, read_dataset


def write(tmp_path: Path, content: str | bytes, name: str = "upload") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def refused(path: Path, *words: str, param: str = "file") -> str:
    with pytest.raises(InvalidInput) as caught:
        inspect_upload(path, path.name)
    assert caught.value.param == param
    message = caught.value.message
    for word in words:
        assert word.lower() in message.lower(), message
    assert str(path.parent) not in message  # never a server path
    return message


def read_refused(path: Path, target: str | None, *words: str, param: str = "target") -> None:
    details = inspect_upload(path, path.name)
    with pytest.raises(InvalidInput) as caught:
        read_dataset(path, details, target=target)
    assert caught.value.param == param
    for word in words:
        assert word.lower() in caught.value.message.lower(), caught.value.message


def png(size: tuple[int, int] = (4, 3), mode: str = "L", value: int = 0, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    color: Any = value if mode == "L" else (value, 255 - value, 7)
    Image.new(mode, size, color=color).save(buffer, fmt)
    return buffer.getvalue()


def make_zip(tmp_path: Path, entries: dict[str, bytes], name: str = "images.zip") -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry, content in entries.items():
            archive.writestr(entry, content)
    return path


def two_classes() -> dict[str, bytes]:
    return {
        "cat/1.png": png(value=10),
        "cat/2.png": png(value=20),
        "dog/1.png": png(value=30),
    }


# --- CSV -----------------------------------------------------------------------------------------


def test_csv_with_text_target(tmp_path: Path) -> None:
    path = write(tmp_path, '\ufeffa, b ,label\r\n1,2.5,cat\r\n\r\n3,-4e2,"dog, big"\r\n')
    details = inspect_upload(path, "x.csv")
    assert details == {
        "format": "csv",
        "rows": 2,
        "columns": ["a", "b", "label"],
        "numeric_columns": ["a", "b"],
    }
    dataset = read_dataset(path, details, target="label")
    assert dataset.kind == "table" and dataset.feature_names == ["a", "b"]
    assert dataset.features is not None and dataset.features.dtype == np.float64
    np.testing.assert_array_equal(dataset.features, [[1, 2.5], [3, -400]])
    assert dataset.targets is not None and dataset.targets.tolist() == ["cat", "dog, big"]
    assert dataset.target_name == "label"


def test_csv_numeric_targets_keep_their_kind(tmp_path: Path) -> None:
    path = write(tmp_path, "x,y,z\n1,0,0.5\n2,1,1.5\n")
    details = inspect_upload(path, "x.csv")
    classes = read_dataset(path, details, target="y")
    assert classes.targets is not None and classes.targets.dtype == np.int64
    assert classes.feature_names == ["x", "z"]
    values = read_dataset(path, details, target="z")
    assert values.targets is not None and values.targets.dtype == np.float64
    assert values.targets.tolist() == [0.5, 1.5]


def test_csv_target_must_be_named_and_exist(tmp_path: Path) -> None:
    path = write(tmp_path, "x,y\n1,2\n")
    read_refused(path, None, "'target'", "'x'", "'y'")
    read_refused(path, "nope", "'nope'", "'x', 'y'")


def test_csv_text_column_can_only_be_the_target(tmp_path: Path) -> None:
    path = write(tmp_path, "x,kind,y\n1,red,2\n2,blue,3\n")
    assert inspect_upload(path, "x.csv")["numeric_columns"] == ["x", "y"]
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
    header = ",".join(f"c{i}" for i in range(data.MAX_COLUMNS + 1))
    refused(write(tmp_path, header + "\n", "wide.csv"), "columns", str(data.MAX_COLUMNS))
    huge = "a,b\n1," + "9" * (data.MAX_LINE_BYTES + 10) + "\n"
    refused(write(tmp_path, huge, "long.csv"), "line 2", "longer than")


def test_line_numbers_hold_across_read_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files are read in blocks; lines that straddle blocks keep their numbers."""
    monkeypatch.setattr(data, "_CHUNK", 1000)  # 1 MiB in production
    monkeypatch.setattr(data, "_BATCH_ROWS", 7)
    body = "a,b,label\r\n" + "1.25,2,cat\r\n" * 3000  # CRLF
    path = write(tmp_path, body + "4,5,dog", "big.csv")  # no final newline
    details = inspect_upload(path, "big.csv")
    assert details["rows"] == 3001
    dataset = read_dataset(path, details, target="label")
    assert dataset.features is not None and dataset.features.shape == (3001, 2)
    assert dataset.features[-1].tolist() == [4, 5] and dataset.features[0].tolist() == [1.25, 2]
    assert dataset.targets is not None and dataset.targets[-1] == "dog"
    refused(write(tmp_path, body + "4,x,dog\r\n", "bad.csv"), "'b'", "line 3002")
    refused(write(tmp_path, body.encode() + b"4,\xff,dog\n", "latin.csv"), "line 3002")
    refused(write(tmp_path, body + "4,5\n", "ragged.csv"), "line 3002")
    jsonl = '{"text": "a"}\n' * 3000 + '{"txt": "b"}\n'
    refused(write(tmp_path, jsonl, "t.jsonl"), "line 3001", "'text'")


def test_csv_not_utf8(tmp_path: Path) -> None:
    latin1 = "a,b\n" + "1,2\n" * 20 + "café,3\n"
    refused(write(tmp_path, latin1.encode("latin-1")), "line 22", "utf-8")


# --- sniffing ------------------------------------------------------------------------------------


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
    assert inspect_upload(path, "data.csv")["format"] == "jsonl"


# --- NPZ -----------------------------------------------------------------------------------------


def test_npz_with_and_without_y(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    x = np.arange(24, dtype=np.float64).reshape(3, 2, 4)
    np.savez(path, x=x, y=np.array(["a", "b", "a"]))
    details = inspect_upload(path, "d.npz")
    assert details["format"] == "npz" and details["x_shape"] == [3, 2, 4]
    assert details["y_shape"] == [3] and details["rows"] == 3
    json.dumps(details)
    dataset = read_dataset(path, details, target=None)
    assert dataset.kind == "tensor" and dataset.features is not None
    assert dataset.features.dtype == np.float32 and dataset.features.shape == (3, 2, 4)
    assert dataset.targets is not None and dataset.targets.tolist() == ["a", "b", "a"]

    compressed = tmp_path / "c.npz"
    np.savez_compressed(compressed, x=np.ones((5, 3), dtype=np.int32))
    details = inspect_upload(compressed, "c.npz")
    assert details["y_shape"] is None
    assert read_dataset(compressed, details, target=None).targets is None


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


# --- JSONL ---------------------------------------------------------------------------------------


def test_jsonl_labelled_unlabelled_and_int_labels(tmp_path: Path) -> None:
    lines = '{"text": "good", "label": "pos"}\n\n{"text": "bad", "label": "neg", "x": 1}\n'
    labelled = write(tmp_path, lines, "l.jsonl")
    details = inspect_upload(labelled, "l.jsonl")
    assert details == {"format": "jsonl", "rows": 2, "labelled": True}
    dataset = read_dataset(labelled, details, target=None)
    assert dataset.kind == "text" and dataset.texts == ["good", "bad"]
    assert dataset.targets is not None and dataset.targets.tolist() == ["pos", "neg"]

    ints = write(tmp_path, '{"text": "a", "label": 1}\n{"text": "b", "label": 0}\n', "i.jsonl")
    targets = read_dataset(ints, inspect_upload(ints, "i"), target=None).targets
    assert targets is not None and targets.dtype == np.int64

    corpus = write(tmp_path, '{"text": "the cat"}\n{"text": "the dog"}\n', "u.jsonl")
    details = inspect_upload(corpus, "u.jsonl")
    assert details["labelled"] is False
    assert read_dataset(corpus, details, target=None).targets is None


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ('{"text": "a"}\n["not", "an", "object"]\n', ["line 2", "not a json object"]),
        ('{"text": "a"}\n{"label": "x"}\n', ["line 2", "'text'"]),
        ('{"text": 5}\n', ["line 1", "'text'"]),
        ('{"text": "a"}\n{"text": \n', ["line 2", "not valid json"]),
        ('{"text": "a", "label": NaN}\n', ["line 1", "nan"]),
        ('{"text": "a", "label": "x"}\n{"text": "b"}\n', ["line 2", "label every line"]),
        ('{"text": "a", "label": true}\n', ["line 1", "label"]),
        ('{"text": "a", "label": 1.5}\n', ["line 1", "label"]),
        ('{"text": "a", "label": "x"}\n{"text": "b", "label": 2}\n', ["line 2", "mix"]),
        ('{"text": "a", "label": ' + "[" * 100_000 + "]" * 100_000 + "}\n", ["line 1"]),
    ],
    ids=[
        "array",
        "no-text",
        "text-number",
        "broken",
        "nan",
        "partly-labelled",
        "bool",
        "float",
        "mixed",
        "deep",
    ],
)
def test_jsonl_problems(tmp_path: Path, content: str, words: list[str]) -> None:
    refused(write(tmp_path, content), *words)


# --- images --------------------------------------------------------------------------------------


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
    details = inspect_upload(path, "images.zip")
    assert details == {
        "format": "images",
        "rows": 3,
        "classes": ["cat", "dog"],
        "class_counts": {"cat": 2, "dog": 1},
        "image_size": [3, 4],
        "mode": "L",
    }
    dataset = read_dataset(path, details, target=None)
    assert dataset.kind == "images" and dataset.features is not None
    assert dataset.features.dtype == np.uint8 and dataset.features.shape == (3, 3, 4, 1)
    assert dataset.targets is not None and dataset.targets.tolist() == ["cat", "cat", "dog"]
    assert int(dataset.features[2].mean()) == 90  # sorted paths: set/dog/b.png is last


def test_one_colour_image_makes_the_set_rgb(tmp_path: Path) -> None:
    path = make_zip(tmp_path, {**two_classes(), "dog/2.png": png(mode="RGB", value=200)})
    details = inspect_upload(path, "images.zip")
    assert details["mode"] == "RGB"
    features = read_dataset(path, details, target=None).features
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


def test_symlink_entry_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "link.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in two_classes().items():
            archive.writestr(name, content)
        link = zipfile.ZipInfo("dog/passwd.png")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    refused(path, "dog/passwd.png", "symbolic link")


def test_duplicate_entries_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "dup.zip"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(path, "w") as archive:
            for name, content in [*two_classes().items(), ("dog/1.png", png(value=99))]:
                archive.writestr(name, content)
    refused(path, "dog/1.png", "twice")


def test_zip_bomb_is_refused_from_the_central_directory(tmp_path: Path) -> None:
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in two_classes().items():
            archive.writestr(name, content)
        with archive.open("dog/bomb.png", "w", force_zip64=True) as entry:
            zeros = bytes(1 << 20)
            for _ in range(200):  # 200 MB of zeros, about 200 KB on disk
                entry.write(zeros)
    assert path.stat().st_size < 1 << 20
    refused(path, "dog/bomb.png", "zip bomb")


def test_size_lies_are_caught_while_reading(tmp_path: Path) -> None:
    """The central directory claims 1,000 bytes; the entry inflates to 2 MB."""
    path = make_zip(tmp_path, {**two_classes(), "dog/lie.png": bytes(2_000_000)})
    raw = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):
        at = -1
        while (at := raw.find(signature, at + 1)) >= 0:
            name_at = at + (46 if signature == b"PK\x01\x02" else 30)
            if raw[name_at : name_at + 11] == b"dog/lie.png":
                struct.pack_into("<I", raw, at + offset, 1000)
    path.write_bytes(bytes(raw))
    refused(path, "zip")


def test_archive_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = make_zip(tmp_path, {**two_classes(), "dog/2.png": png(), "dog/3.png": png()})
    monkeypatch.setattr(data, "MAX_ZIP_ENTRIES", 4)
    refused(path, "5 entries", "at most 4")
    monkeypatch.setattr(data, "MAX_ZIP_ENTRIES", 100)
    monkeypatch.setattr(data, "MAX_CENTRAL_DIRECTORY_BYTES", 100)
    refused(path, "list of entries", "100")
    monkeypatch.setattr(data, "MAX_CENTRAL_DIRECTORY_BYTES", 1 << 20)
    monkeypatch.setattr(data, "MAX_UNCOMPRESSED_BYTES", 200)
    refused(path, "expands to", "200")
    monkeypatch.setattr(data, "MAX_UNCOMPRESSED_BYTES", 1 << 30)
    monkeypatch.setattr(data, "MAX_IMAGES_ARRAY_BYTES", 40)
    refused(path, "smaller")


def test_damaged_zip_is_refused(tmp_path: Path) -> None:
    path = make_zip(tmp_path, two_classes())
    raw = path.read_bytes()
    refused(write(tmp_path, raw[: len(raw) // 2], "half.zip"), "damaged")
    refused(write(tmp_path, raw[:-30] + bytes(30), "tail.zip"), "damaged")


def test_unknown_format_in_details(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as caught:
        read_dataset(write(tmp_path, "a,b\n1,2\n"), {"format": "parquet"}, target="b")
    assert caught.value.param == "file"

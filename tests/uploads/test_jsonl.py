"""JSONL uploads: texts with or without labels, every bad line refused by number."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aimaas.uploads.datasets import inspect_upload, read_dataset
from aimaas.uploads.jsonl import JsonlSummary
from tests.uploads import refused, write


def test_jsonl_labelled_unlabelled_and_int_labels(tmp_path: Path) -> None:
    lines = '{"text": "good", "label": "pos"}\n\n{"text": "bad", "label": "neg", "x": 1}\n'
    labelled = write(tmp_path, lines, "l.jsonl")
    summary = inspect_upload(labelled, "l.jsonl")
    assert summary.model_dump() == {"format": "jsonl", "rows": 2, "labelled": True}
    dataset = read_dataset(labelled, summary, target=None)
    assert dataset.kind == "text" and dataset.texts == ["good", "bad"]
    assert dataset.targets is not None and dataset.targets.tolist() == ["pos", "neg"]

    ints = write(tmp_path, '{"text": "a", "label": 1}\n{"text": "b", "label": 0}\n', "i.jsonl")
    targets = read_dataset(ints, inspect_upload(ints, "i"), target=None).targets
    assert targets is not None and targets.dtype == np.int64

    corpus = write(tmp_path, '{"text": "the cat"}\n{"text": "the dog"}\n', "u.jsonl")
    summary = inspect_upload(corpus, "u.jsonl")
    assert isinstance(summary, JsonlSummary) and summary.labelled is False
    assert read_dataset(corpus, summary, target=None).targets is None


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

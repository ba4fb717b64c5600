"""JSONL uploads: one ``{"text": ..., "label": ...}`` object per line; the label is optional,
but then on every line or none, and all strings or all integers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from aimaas.uploads import strict_json
from aimaas.uploads.dataset import Dataset
from aimaas.uploads.limits import UploadLimits
from aimaas.uploads.lines import text_lines
from aimaas.uploads.refusal import refused

MAX_LABEL_INT = 2**63 - 1  # integer labels become an int64 array


class JsonlSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    format: Literal["jsonl"] = "jsonl"
    rows: int
    labelled: bool


def _jsonl_records(path: Path, limits: UploadLimits) -> Iterator[tuple[int, str, str | int | None]]:
    """(line, text, label or None) per non-blank line, every line checked."""
    for number, line in enumerate(text_lines(path, limits), 1):
        if not line.strip():
            continue
        try:
            value = strict_json.parse(line)
        except strict_json.StrictJSONError as exc:
            if exc.too_deep:
                raise refused(f"Line {number} is nested too deeply.") from None
            raise refused(
                f"Line {number} is not valid JSON ({exc.msg}); write one JSON object per line."
            ) from None
        if not isinstance(value, dict):
            raise refused(
                f'Line {number} is not a JSON object; each line needs {{"text": "...", '
                '"label": ...}.'
            )
        text = value.get("text")
        if not isinstance(text, str):
            raise refused(f"Line {number} lacks a string 'text' field; every line needs one.")
        label = value.get("label")
        if label is not None and (
            isinstance(label, bool)
            or not isinstance(label, str | int)
            or label == ""
            or (isinstance(label, int) and abs(label) > MAX_LABEL_INT)
        ):
            raise refused(f"Line {number}: 'label' must be a non-empty string or a 64-bit integer.")
        yield number, text, label


def inspect_jsonl(path: Path, limits: UploadLimits) -> JsonlSummary:
    rows = 0
    labelled: bool | None = None
    label_type: type | None = None
    for number, _, label in _jsonl_records(path, limits):
        rows += 1
        if labelled is None:
            labelled = label is not None
        if labelled != (label is not None):
            state = "has no" if label is None else "has a"
            raise refused(
                f"Line {number} {state} 'label' unlike the first line; label every line or none."
            )
        if label is not None:
            label_type = label_type or type(label)
            if type(label) is not label_type:
                raise refused(
                    f"Line {number}: labels must be all strings or all integers, not a mix."
                )
    if rows == 0:
        raise refused("The JSONL file has no records.")
    return JsonlSummary(rows=rows, labelled=bool(labelled))


def read_jsonl(path: Path, limits: UploadLimits) -> Dataset:
    texts: list[str] = []
    labels: list[str | int] = []
    for _, text, label in _jsonl_records(path, limits):
        texts.append(text)
        if label is not None:
            labels.append(label)
    if not texts:
        raise refused("The JSONL file has no records.")
    if labels and len(labels) != len(texts):
        raise refused("Some JSONL lines have a 'label' and some do not; label every line or none.")
    if not labels:
        return Dataset(kind="text", texts=texts)
    targets = np.array(labels, dtype=np.int64 if isinstance(labels[0], int) else str)
    return Dataset(kind="text", texts=texts, targets=targets)

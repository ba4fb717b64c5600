"""Image uploads: a zip with one folder of PNG/JPEG images per class (optionally inside one
top folder); every image decoded with its pixel count checked first, the first one setting
the size all are read at."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from aimaas.errors import InvalidInput
from aimaas.uploads.archives import Budget, checked_entries, open_zip, zip_errors
from aimaas.uploads.dataset import Dataset
from aimaas.uploads.images import MAX_PIXELS, ImageMode, decode_image
from aimaas.uploads.limits import UploadLimits
from aimaas.uploads.refusal import refused
from aimaas.uploads.sniff import ARCHIVE_MAGIC

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class ImageFoldersSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    format: Literal["images"] = "images"
    rows: int
    classes: list[str]
    class_counts: dict[str, int]
    image_size: list[int]  # [height, width]
    mode: ImageMode


def _hidden(name: str) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in name.split("/"))


def _image_entries(entries: list[zipfile.ZipInfo]) -> list[tuple[str, zipfile.ZipInfo]]:
    """(class, entry) per image, sorted by path; one folder per class, optionally inside a
    single top folder."""
    files = [e for e in entries if not _hidden(e.filename)]
    parts = [e.filename.split("/") for e in files]
    if parts and all(len(p) == 3 for p in parts) and len({p[0] for p in parts}) == 1:
        parts = [p[1:] for p in parts]
    images = []
    for info, path in zip(files, parts, strict=True):
        shown = info.filename[:200]
        if len(path) != 2:
            raise refused(
                f"Entry {shown!r} is not directly in a class folder; the archive needs one "
                "folder per class holding its images (cat/1.png, dog/2.jpg)."
            )
        if not path[1].lower().endswith(_IMAGE_SUFFIXES):
            raise refused(f"Entry {shown!r} is not a .png or .jpg image; remove it.")
        images.append((path[0], info))
    classes = sorted({label for label, _ in images})
    if len(classes) < 2:
        found = f"only {classes[0][:64]!r}" if classes else "no class folders"
        raise refused(
            f"The archive has {found}; a classifier needs at least 2 class folders of images."
        )
    return images


def _decode_entry(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    budget: Budget,
    limits: UploadLimits,
    mode: ImageMode | None = None,
    size: tuple[int, int] | None = None,
) -> np.ndarray:
    data = budget.read(archive, info, limits.max_image_file_bytes)
    if data.startswith(ARCHIVE_MAGIC):
        raise refused(f"Entry {info.filename[:200]!r} is an archive; nested archives are refused.")
    try:
        return decode_image(data, mode=mode, size=size, param=f"Entry {info.filename[:200]!r}")
    except InvalidInput as exc:
        raise refused(
            f"{exc.message} Use PNG or JPEG images of at most {MAX_PIXELS} pixels."
        ) from None


def inspect_image_folders(
    archive: zipfile.ZipFile, entries: list[zipfile.ZipInfo], limits: UploadLimits
) -> ImageFoldersSummary:
    images = _image_entries(entries)
    budget = Budget(limits.max_uncompressed_bytes)
    grey = True
    size: tuple[int, int] = (0, 0)
    counts: dict[str, int] = {}
    for index, (label, info) in enumerate(images):
        array = _decode_entry(archive, info, budget, limits)
        if index == 0:
            size = (int(array.shape[0]), int(array.shape[1]))
        grey = grey and array.shape[2] == 1
        counts[label] = counts.get(label, 0) + 1
    channels = 1 if grey else 3
    if len(images) * size[0] * size[1] * channels > limits.max_images_array_bytes:
        raise refused(
            f"{len(images)} images of {size[0]}x{size[1]} pixels decode to more than "
            f"{limits.max_images_array_bytes} bytes; make the images smaller (the first sets "
            "the size)."
        )
    return ImageFoldersSummary(
        rows=len(images),
        classes=sorted(counts),
        class_counts=counts,
        image_size=list(size),
        mode="L" if grey else "RGB",
    )


def read_image_folders(path: Path, summary: ImageFoldersSummary, limits: UploadLimits) -> Dataset:
    mode = summary.mode
    height, width = summary.image_size
    with zip_errors(), open_zip(path, limits) as archive:
        images = _image_entries(checked_entries(archive, limits))
        features = np.empty((len(images), height, width, 1 if mode == "L" else 3), np.uint8)
        budget = Budget(limits.max_uncompressed_bytes)
        for index, (_, info) in enumerate(images):
            features[index] = _decode_entry(archive, info, budget, limits, mode, (height, width))
    targets = np.array([label for label, _ in images], dtype=str)
    return Dataset(kind="images", features=features, targets=targets)

"""limits.py: the limits are one frozen value a caller replaces field by field, and the
defaults fit together (the largest image accepted fits the archive and the array budgets)."""

from __future__ import annotations

import dataclasses

import pytest

from aimaas.uploads.images import MAX_PIXELS
from aimaas.uploads.limits import UploadLimits


def test_limits_are_frozen_and_replaced_one_field_at_a_time() -> None:
    defaults = UploadLimits()
    with pytest.raises(dataclasses.FrozenInstanceError):
        defaults.max_zip_entries = 1  # type: ignore[misc]
    small = dataclasses.replace(defaults, max_zip_entries=4)
    assert small.max_zip_entries == 4 and defaults.max_zip_entries == 100_000
    changed = {
        field.name
        for field in dataclasses.fields(UploadLimits)
        if getattr(small, field.name) != getattr(defaults, field.name)
    }
    assert changed == {"max_zip_entries"}


def test_the_defaults_fit_together() -> None:
    limits = UploadLimits()
    assert all(getattr(limits, f.name) > 0 for f in dataclasses.fields(UploadLimits))
    # An image file is one entry of an archive, and only entries above the floor are
    # ratio-checked: small images may compress well.
    assert limits.ratio_floor_bytes < limits.max_image_file_bytes <= limits.max_uncompressed_bytes
    # One image of the largest size decoded to RGB fits the decoded array.
    assert limits.max_images_array_bytes >= MAX_PIXELS * 3

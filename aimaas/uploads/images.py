"""Decoding uploaded images (PNG, JPEG) into arrays, safely: the pixel count is checked from
the header before any pixel is decoded, so a small file cannot expand into gigabytes."""

from __future__ import annotations

import io
import warnings
from typing import Literal

import numpy as np
from PIL import Image

from aimaas.errors import InvalidInput

ImageMode = Literal["L", "RGB"]
MAX_PIXELS = 4096 * 4096
FORMATS = ("PNG", "JPEG")


def decode_image(
    data: bytes,
    *,
    mode: ImageMode | None = None,
    size: tuple[int, int] | None = None,
    param: str = "image",
) -> np.ndarray:
    """uint8 [H, W, C] (C = 1 for "L", 3 for "RGB"); ``size`` is (height, width).

    ``mode`` None keeps grey images grey and turns everything else into RGB."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data), formats=FORMATS)
            width, height = opened.size
            if width * height > MAX_PIXELS or width < 1 or height < 1:
                raise InvalidInput(
                    f"{param}: {width}x{height} pixels is outside 1..{MAX_PIXELS} pixels.",
                    param=param,
                )
            opened.load()
    except InvalidInput:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Warning) as exc:
        raise InvalidInput(
            f"{param} is not a readable PNG or JPEG image ({type(exc).__name__}).", param=param
        ) from exc
    target: ImageMode = mode or ("L" if opened.mode in ("L", "1", "I;16", "I") else "RGB")
    image = opened.convert(target)
    if size is not None and (image.height, image.width) != size:
        image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    array = np.asarray(image, dtype=np.uint8)
    return array[:, :, None] if array.ndim == 2 else array

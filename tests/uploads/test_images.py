"""images.py: PNG and JPEG bytes decoded to uint8 [H, W, C] (grey kept grey, the rest RGB,
resized on request), and everything else refused with the caller's ``param`` before any
pixel of an oversized image is decoded."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from aimaas.errors import InvalidInput
from aimaas.uploads.images import MAX_PIXELS, decode_image
from tests.uploads import png


def encoded(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` grey pixels, with none in its data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    empty = zlib.compress(b"")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", empty) + chunk(b"IEND", b"")
    )


def test_grey_stays_grey_and_colour_becomes_rgb() -> None:
    grey = decode_image(png((4, 3), mode="L", value=90))
    assert grey.shape == (3, 4, 1) and grey.dtype == np.uint8
    assert (grey == 90).all()
    colour = decode_image(png((4, 3), mode="RGB", value=10))
    assert colour.shape == (3, 4, 3)
    assert colour[0, 0].tolist() == [10, 245, 7]
    rgba = decode_image(encoded(Image.new("RGBA", (2, 2), (1, 2, 3, 4))))
    assert rgba.shape == (2, 2, 3) and rgba[1, 1].tolist() == [1, 2, 3]
    sixteen_bit = decode_image(encoded(Image.new("I;16", (2, 2), 500)))
    assert sixteen_bit.shape == (2, 2, 1)


def test_a_mode_and_a_size_are_what_the_caller_asked() -> None:
    as_rgb = decode_image(png((4, 3), mode="L", value=90), mode="RGB")
    assert as_rgb.shape == (3, 4, 3) and (as_rgb == 90).all()
    as_grey = decode_image(png((4, 3), mode="RGB", value=0), mode="L")
    assert as_grey.shape == (3, 4, 1)
    resized = decode_image(png((4, 3), value=200), size=(6, 8))  # (height, width)
    assert resized.shape == (6, 8, 1)
    assert np.abs(resized.astype(int) - 200).max() <= 1  # a flat image stays flat
    jpeg = decode_image(png((8, 6), mode="RGB", value=50, fmt="JPEG"), mode="RGB")
    assert jpeg.shape == (6, 8, 3)
    assert np.abs(jpeg.astype(int) - [50, 205, 7]).max() <= 8  # JPEG is lossy


@pytest.mark.parametrize(
    "data",
    [
        b"not an image at all",
        b"",
        png()[:30],  # cut inside its pixels
        encoded(Image.new("L", (2, 2)), "GIF"),  # a real image, not PNG or JPEG
        encoded(Image.new("L", (2, 2)), "BMP"),
    ],
)
def test_other_bytes_are_refused_naming_the_param(data: bytes) -> None:
    with pytest.raises(InvalidInput) as caught:
        decode_image(data, param="images[3]")
    assert caught.value.param == "images[3]"
    assert caught.value.message.startswith("images[3] is not a readable PNG or JPEG image (")


def test_an_image_over_the_pixel_limit_is_refused_from_its_header() -> None:
    side = 4097
    assert side * side > MAX_PIXELS
    with pytest.raises(InvalidInput) as caught:
        decode_image(png_header_only(side, side))  # no pixels: only the header is read
    assert caught.value.param == "image"
    assert caught.value.message == (
        f"image: {side}x{side} pixels is outside 1..{MAX_PIXELS} pixels."
    )
    with pytest.raises(InvalidInput, match="not a readable"):
        decode_image(png_header_only(4096, 4096))  # within the limit: decoding then fails

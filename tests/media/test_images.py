"""Input images: decoded upright, flattened to RGB, refused clearly when they are not images."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.media.images import cover_fit, load_image


def _encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def test_png_decodes_to_rgb() -> None:
    image = load_image(_encode(Image.new("RGB", (33, 21), (10, 200, 30)), "PNG"))
    assert image.mode == "RGB"
    assert image.size == (33, 21)
    assert image.getpixel((5, 5)) == (10, 200, 30)


def test_exif_orientation_is_applied() -> None:
    # A phone photo stored landscape with "rotate 90 degrees" in its EXIF.
    stored = Image.new("RGB", (40, 20), (255, 255, 255))
    exif = Image.Exif()
    exif[0x0112] = 6
    image = load_image(_encode(stored, "JPEG", exif=exif.tobytes()))
    assert image.size == (20, 40)


def test_transparency_is_flattened() -> None:
    rgba = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
    image = load_image(_encode(rgba, "PNG"))
    assert image.mode == "RGB"
    assert image.getpixel((0, 0)) == (0, 0, 0)


@pytest.mark.parametrize("data", [b"", b"not an image at all", _encode(Image.new("RGB", (64, 64)), "PNG")[:60]])
def test_garbage_is_an_invalid_payload(data: bytes) -> None:
    with pytest.raises(ReelforgeError) as info:
        load_image(data)
    assert info.value.code == ErrorCode.INVALID_PAYLOAD
    assert "image" in info.value.message


def test_too_many_pixels_is_refused_before_decoding() -> None:
    data = _encode(Image.new("RGB", (200, 100)), "PNG")
    with pytest.raises(ReelforgeError) as info:
        load_image(data, max_pixels=10_000)
    assert info.value.code == ErrorCode.INVALID_PAYLOAD
    assert "megapixels" in info.value.message


def test_cover_fit_fills_the_frame_and_keeps_the_centre() -> None:
    # A portrait image with a red band across its middle; the landscape crop keeps the band.
    array = np.zeros((300, 100, 3), np.uint8)
    array[140:160] = (255, 0, 0)
    fitted = cover_fit(Image.fromarray(array), 160, 90)
    assert fitted.size == (160, 90)
    middle = np.asarray(fitted)[45, 80]
    assert middle[0] > 200 and middle[1] < 50

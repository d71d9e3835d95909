"""Decode user-supplied images safely and fit them to a frame.

Input images come from strangers: any bytes, any size, any orientation. `load_image` turns them into a
plain RGB `PIL.Image` or a clear `INVALID_PAYLOAD` error, and refuses decompression bombs before
decoding a single pixel (Pillow's own guard only starts at ~89 megapixels, and only warns there).
"""

from __future__ import annotations

import io
import struct
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from reelforge.domain.errors import ErrorCode, ReelforgeError

MAX_PIXELS = 50_000_000

# What Pillow raises for bytes that are not, or not entirely, a decodable image.
_DECODE_ERRORS = (
    UnidentifiedImageError,
    OSError,
    SyntaxError,
    ValueError,
    TypeError,
    EOFError,
    IndexError,
    struct.error,
    Image.DecompressionBombError,
)


def load_image(data: bytes, *, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode image bytes to an upright RGB image.

    EXIF orientation is applied (phone photos are stored sideways with a rotate tag); an alpha channel
    is composited over black, the colour of letterboxing; an animation yields its first frame.
    """
    image = _decode(data, max_pixels, transpose=True)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def check_image(data: bytes, *, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """The size of image bytes the workers will accept, or the `INVALID_PAYLOAD` a worker would fail with.

    The API calls this at submit, before any credit is taken: the same rules as `load_image` (empty,
    not an image, truncated, over `max_pixels`), by decoding the pixels once.
    """
    image = _decode(data, max_pixels)
    try:
        return image.size
    finally:
        image.close()


def _decode(data: bytes, max_pixels: int, *, transpose: bool = False) -> Image.Image:
    """Open and fully decode `data`, refusing bombs from the header, before any pixel is decoded."""
    if not data:
        raise ReelforgeError(ErrorCode.INVALID_PAYLOAD, "the input image is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise ReelforgeError(
                    ErrorCode.INVALID_PAYLOAD,
                    f"the input image is {width}x{height} ({width * height / 1e6:.0f} megapixels); "
                    f"the limit is {max_pixels / 1e6:.0f} megapixels, so downscale it first",
                )
            image.load()
            if transpose:
                image = ImageOps.exif_transpose(image)  # type: ignore[assignment]
    except ReelforgeError:
        raise
    except UnidentifiedImageError:
        raise ReelforgeError(
            ErrorCode.INVALID_PAYLOAD, "the input is not an image Pillow can read; send a PNG, JPEG, WebP or GIF file"
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ReelforgeError(
            ErrorCode.INVALID_PAYLOAD,
            f"the input image is too large to decode (a decompression bomb?); "
            f"the limit is {max_pixels / 1e6:.0f} megapixels",
        ) from None
    except _DECODE_ERRORS as exc:
        raise ReelforgeError(
            ErrorCode.INVALID_PAYLOAD,
            f"the input could not be decoded as an image ({type(exc).__name__}: {exc}); "
            "send a PNG, JPEG, WebP or GIF file",
        ) from None
    return image


def cover_fit(
    img: Image.Image,
    width: int,
    height: int,
    resample: Image.Resampling = Image.Resampling.LANCZOS,
) -> Image.Image:
    """Scale `img` to cover `width` x `height` and crop the overflow, centred (CSS `object-fit: cover`).

    Video frames have one aspect and input images another; covering never shows bars, at the price of
    cropping the edges of the image.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"target size must be positive, got {width}x{height}")
    return ImageOps.fit(img, (width, height), method=resample, centering=(0.5, 0.5))

"""I420 frames (BT.709, limited range) as numpy arrays: the format H.264 actually stores.

An engine that renders straight into I420 skips two full-resolution passes per frame that an RGB
pipeline pays for: the RGB upscale and the RGB -> YUV conversion before x264. For the draft engine
that is about a third of its CPU time. The layout is FFmpeg's `yuv420p` as PyAV's `to_ndarray` gives
it: one C-contiguous uint8 array of shape (height * 3 // 2, width) holding the Y plane, then U, then
V (each a quarter of Y's size). Conversions go through swscale with explicit BT.709 settings, so the
matrix always matches the colour tags `VideoWriter` writes.
"""

from __future__ import annotations

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace

# BT.709 luma weights, and the limited-range scales (Y: 16..235, U/V: 16..240 around 128).
KR, KB = 0.2126, 0.0722
KG = 1 - KR - KB
Y_SCALE, C_SCALE = 219 / 255, 224 / 255


def i420_shape(width: int, height: int) -> tuple[int, int]:
    """The array shape of a width x height I420 frame (both must be even)."""
    if width % 2 or height % 2:
        raise ValueError(f"I420 needs an even width and height, got {width}x{height}")
    return (height * 3 // 2, width)


def frame_size(frame: np.ndarray) -> tuple[int, int]:
    """(width, height) of an I420 array."""
    return frame.shape[1], frame.shape[0] * 2 // 3


def planes(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Writable (Y, U, V) views into an I420 array: H x W, H/2 x W/2, H/2 x W/2."""
    width, height = frame_size(frame)
    flat = frame.reshape(-1)
    luma = width * height
    y = flat[:luma].reshape(height, width)
    u = flat[luma : luma * 5 // 4].reshape(height // 2, width // 2)
    v = flat[luma * 5 // 4 :].reshape(height // 2, width // 2)
    return y, u, v


def rgb_to_i420(rgb: np.ndarray, width: int | None = None, height: int | None = None) -> np.ndarray:
    """Convert (and, if a size is given, bilinearly rescale) an RGB uint8 image to an I420 array.

    Scaling and conversion are one swscale pass, which is why an upscale from a small render costs
    about as much as a memcpy of the result.
    """
    h, w = rgb.shape[:2]
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    out = frame.reformat(
        width=width or w,
        height=height or h,
        format="yuv420p",
        src_colorspace=Colorspace.ITU709,
        dst_colorspace=Colorspace.ITU709,
        src_color_range=ColorRange.JPEG,
        dst_color_range=ColorRange.MPEG,
        interpolation="BILINEAR",
    )
    return out.to_ndarray()


def i420_to_rgb(frame: np.ndarray) -> np.ndarray:
    """An I420 array back to H x W x 3 RGB uint8 (for thumbnails and tests)."""
    yuv = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="yuv420p")
    out = yuv.reformat(
        format="rgb24",
        src_colorspace=Colorspace.ITU709,
        dst_colorspace=Colorspace.ITU709,
        src_color_range=ColorRange.MPEG,
        dst_color_range=ColorRange.JPEG,
    )
    return out.to_ndarray()


def rgb_delta_to_yuv(rgb: np.ndarray) -> np.ndarray:
    """The Y, U, V change caused by adding `rgb` (0-255 units, ... x 3) to a pixel: for additive light.

    The transform is linear, so light added in RGB is the same light added in YUV (before clipping).
    """
    rgb = np.asarray(rgb, dtype=np.float32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    luma = KR * r + KG * g + KB * b
    return np.stack(
        [
            luma * Y_SCALE,
            (b - luma) / (2 * (1 - KB)) * C_SCALE,
            (r - luma) / (2 * (1 - KR)) * C_SCALE,
        ],
        axis=-1,
    )


def rgb_to_yuv(rgb: np.ndarray) -> np.ndarray:
    """Limited-range BT.709 Y, U, V (floats) of RGB colours (0-255, ... x 3)."""
    delta = rgb_delta_to_yuv(rgb)
    return delta + np.asarray([16.0, 128.0, 128.0], dtype=np.float32)

"""Image-to-video for the draft engine: a slow camera move over a still image ("Ken Burns").

This is not AI: nothing in the image moves, the camera does. The image is cover-fitted once to a
slightly larger canvas than the output and converted once to I420 planes; each frame crops a
window that shrinks (zoom in) and slides (pan in a direction drawn from the seed) with an ease-in-out,
and resamples it with Pillow to the output size -- Y at full size, U and V at half size, straight
into an I420 frame, which costs about half of resampling RGB and needs no conversion afterwards.
The window is placed with sub-pixel precision, so the motion does not judder however slow it is.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from reelforge.engines.draft.caption import Caption
from reelforge.engines.draft.scene import ease
from reelforge.engines.draft.seeds import rng_for
from reelforge.media.images import cover_fit
from reelforge.media.yuv import i420_shape, planes, rgb_to_i420

_CANVAS = 1.3  # the canvas is this much larger than the output; the last frame shows it 1:1
_START_ZOOM = 1.1  # the first frame shows 1/_START_ZOOM of the canvas (the margin is room for the pan)


class CameraMove:
    """Frames of a zoom-and-pan over `image`; `frame(i)` depends only on the arguments and i."""

    def __init__(
        self,
        image: Image.Image,
        *,
        seed: int,
        width: int,
        height: int,
        n_frames: int,
        caption: str | None = None,
        variant: int = 0,
    ) -> None:
        self.width, self.height, self.n_frames = width, height, n_frames
        rng = rng_for("draft.camera", seed, variant)
        cw, ch = round(width * _CANVAS / 2) * 2, round(height * _CANVAS / 2) * 2
        # The canvas is kept as I420 planes: chroma at half size resamples at the same ratio as luma.
        canvas = rgb_to_i420(np.asarray(cover_fit(image.convert("RGB"), cw, ch)))
        self._canvas = [Image.fromarray(np.ascontiguousarray(plane)) for plane in planes(canvas)]
        self._canvas_size = (cw, ch)

        # Window size (canvas pixels) at the start and the end of the move.
        self._start = (cw / _START_ZOOM, ch / _START_ZOOM)
        self._end = (float(width), float(height))
        # The pan runs from -A to +A around the centre along a seeded direction. The start window is
        # the largest, so it bounds A; every window in between fits too (it only shrinks).
        angle = float(rng.uniform(0, 2 * math.pi))
        margin_x, margin_y = (cw - self._start[0]) / 2, (ch - self._start[1]) / 2
        self._pan = (margin_x * math.cos(angle), margin_y * math.sin(angle))
        self._caption = Caption(caption, width, height) if caption and caption.strip() else None

    def window(self, i: int) -> tuple[float, float, float, float]:
        """The crop box (left, top, right, bottom) in canvas pixels for frame i."""
        e = ease(i / max(1, self.n_frames - 1))
        w = self._start[0] + (self._end[0] - self._start[0]) * e
        h = self._start[1] + (self._end[1] - self._start[1]) * e
        cx = self._canvas_size[0] / 2 + self._pan[0] * (2 * e - 1)
        cy = self._canvas_size[1] / 2 + self._pan[1] * (2 * e - 1)
        return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)

    def frame(self, i: int) -> np.ndarray:
        """Frame `i` as an I420 array (see `reelforge.media.yuv`)."""
        frame = np.empty(i420_shape(self.width, self.height), np.uint8)
        box = self.window(i)
        half_box = (box[0] / 2, box[1] / 2, box[2] / 2, box[3] / 2)
        for index, (plane, canvas) in enumerate(zip(planes(frame), self._canvas, strict=True)):
            size, window = ((self.width, self.height), box) if index == 0 else (plane.shape[::-1], half_box)
            plane[...] = np.asarray(canvas.resize(size, Image.Resampling.BILINEAR, box=window))
        if self._caption is not None:
            self._caption.apply(frame)
        return frame

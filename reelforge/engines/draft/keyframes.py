"""Keyframes and multi-image for the draft engine: dissolves between still images, with a camera move.

This is not AI: nothing is interpolated between the images, they are dissolved into each other.

Keyframes (`KeyframeTrack`): image k is shown exactly -- cover-fitted, unzoomed, the same pixels as
`cover_fit` then I420 -- at its frame position. Between two keyframes the camera pushes into the first
image and slides along a seeded direction while the second image, pushed in the same amount and
offset the other way, dissolves in and settles back to its own framing: a zoom-dissolve whose motion
is one continuous, eased camera move (velocity zero at each keyframe, so the camera never jerks).
The dissolve takes the middle half of a long gap, and all of a short one (shorter than twice the
`transition` setting), so long gaps do not spend seconds as a double exposure. Before the first and
after the last keyframe the image holds with a slight eased drift.

Multi-image (`Slideshow`): each image gets an equal share of the duration with the image-to-video
camera move (`CameraMove`, direction per image from the seed), and neighbours overlap by an eased
dissolve centred on their boundary (`segment_spans`), so the total frame count stays exact.

Images are cover-fitted and converted to I420 once; each frame is at most two Pillow resamples of
the Y, U and V planes plus an integer mix, like `camera.py`.
"""

from __future__ import annotations

import bisect
import itertools
import math

import numpy as np
from PIL import Image

from reelforge.engines.draft.camera import CameraMove
from reelforge.engines.draft.caption import Caption
from reelforge.engines.draft.scene import ease
from reelforge.engines.draft.seeds import rng_for
from reelforge.engines.draft.timeline import Timeline, mix
from reelforge.media.images import cover_fit
from reelforge.media.yuv import i420_shape, planes, rgb_to_i420

TRANSITION_ZOOM = 1.12  # how far the camera pushes in halfway between two keyframes
HOLD_ZOOM = 1.04  # the drift before the first and after the last keyframe
_LONG_GAP_DISSOLVE = 0.5  # share of a long gap the dissolve takes (centred)


def spread_positions(count: int, n_frames: int) -> list[int]:
    """`count` frame positions spread evenly over 0..n_frames - 1: first at 0, last at the final frame."""
    if count == 1:
        return [0]
    return [round(k * (n_frames - 1) / (count - 1)) for k in range(count)]


class Still:
    """One image cover-fitted to the output size and kept as I420; `view` frames part of it."""

    def __init__(self, image: Image.Image, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.i420 = rgb_to_i420(np.asarray(cover_fit(image.convert("RGB"), width, height)))
        self._planes = [Image.fromarray(np.ascontiguousarray(plane)) for plane in planes(self.i420)]

    def view(self, zoom: float, shift_x: float = 0.0, shift_y: float = 0.0) -> np.ndarray:
        """A new I420 frame magnified `zoom` (>= 1) times about a point moved `shift` (each -1..1) of
        the way from the centre towards the edges; `view(1)` is the image exactly."""
        if zoom <= 1.0:
            return self.i420.copy()
        w, h = self.width / zoom, self.height / zoom
        cx = self.width / 2 + (self.width - w) / 2 * shift_x
        cy = self.height / 2 + (self.height - h) / 2 * shift_y
        box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        half_box = (box[0] / 2, box[1] / 2, box[2] / 2, box[3] / 2)
        frame = np.empty(i420_shape(self.width, self.height), np.uint8)
        for index, (plane, source) in enumerate(zip(planes(frame), self._planes, strict=True)):
            size, window = ((self.width, self.height), box) if index == 0 else (plane.shape[::-1], half_box)
            plane[...] = np.asarray(source.resize(size, Image.Resampling.BILINEAR, box=window))
        return frame


def _direction(seed: int, part: object) -> tuple[float, float]:
    angle = float(rng_for("draft.keyframes", seed, part).uniform(0, 2 * math.pi))
    return math.cos(angle), math.sin(angle)


class KeyframeTrack:
    """Frames through `stills[k]` at `positions[k]` (strictly increasing, within 0..n_frames - 1)."""

    def __init__(
        self,
        stills: list[Still],
        positions: list[int],
        *,
        seed: int,
        n_frames: int,
        transition_frames: int,
        caption: str | None = None,
    ) -> None:
        if len(stills) != len(positions) or not stills:
            raise ValueError("one position per still, at least one still")
        if positions[0] < 0 or positions[-1] >= n_frames or any(b <= a for a, b in itertools.pairwise(positions)):
            raise ValueError(f"positions {positions} are not strictly increasing within 0..{n_frames - 1}")
        self.stills, self.positions, self.n_frames = stills, positions, n_frames
        self.transition_frames = max(1, transition_frames)
        self._lead = _direction(seed, "lead")
        self._tail = _direction(seed, "tail")
        self._moves = [_direction(seed, k) for k in range(len(stills) - 1)]
        width, height = stills[0].width, stills[0].height
        self._caption = Caption(caption, width, height) if caption and caption.strip() else None

    def dissolve_weight(self, k: int, g: int) -> int:
        """Weight 0..256 of keyframe k + 1 at frame g, which lies in [positions[k], positions[k + 1]]."""
        start, end = self.positions[k], self.positions[k + 1]
        gap = end - start
        share = min(1.0, max(_LONG_GAP_DISSOLVE, self.transition_frames / gap))
        p = (g - start) / gap
        return round(256 * ease((p - 0.5) / share + 0.5))

    def frame(self, g: int) -> np.ndarray:
        """Frame `g` as an I420 array (see `reelforge.media.yuv`)."""
        first, last = self.positions[0], self.positions[-1]
        out: np.ndarray | None
        if g <= first:
            # Settle into the first keyframe: from a slight push-in to the exact framing.
            e = 1 - ease(g / first) if first else 0.0
            out = self.stills[0].view(1 + (HOLD_ZOOM - 1) * e, -self._lead[0] * e, -self._lead[1] * e)
        elif g >= last:
            # Leave the last keyframe with a slight push-in.
            rest = self.n_frames - 1 - last
            e = ease((g - last) / rest) if rest else 0.0
            out = self.stills[-1].view(1 + (HOLD_ZOOM - 1) * e, self._tail[0] * e, self._tail[1] * e)
        else:
            k = bisect.bisect_right(self.positions, g) - 1
            start, end = self.positions[k], self.positions[k + 1]
            e = ease((g - start) / (end - start))
            dx, dy = self._moves[k]
            weight = self.dissolve_weight(k, g)
            # One camera move: into image k along (dx, dy), then out of image k + 1 from the other side.
            a = self.stills[k].view(1 + (TRANSITION_ZOOM - 1) * e, dx * e, dy * e) if weight < 256 else None
            b = (
                self.stills[k + 1].view(1 + (TRANSITION_ZOOM - 1) * (1 - e), -dx * (1 - e), -dy * (1 - e))
                if weight > 0
                else None
            )
            out = b if a is None else a if b is None else mix(a, b, weight)
        assert out is not None
        if self._caption is not None:
            self._caption.apply(out)
        return out


class Slideshow:
    """Image-to-video camera moves (one per image) laid end to end over `spans`, dissolving into each
    other, captioned once over the mix."""

    def __init__(self, moves: list[CameraMove], spans: list[tuple[int, int]], caption: str | None = None) -> None:
        self._timeline = Timeline(list(moves), spans, eased=True)
        self.n_frames = self._timeline.n_frames
        width, height = moves[0].width, moves[0].height
        self._caption = Caption(caption, width, height) if caption and caption.strip() else None

    def frame(self, g: int) -> np.ndarray:
        out = self._timeline.frame(g)
        if self._caption is not None:
            self._caption.apply(out)
        return out

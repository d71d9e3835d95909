"""Video-to-video for the draft engine: the input video, reframed, retimed and restyled.

This is not AI: nothing in the video is redrawn, it is colour graded. The prompt and the seed pick one
of three looks (`STYLES`) and its colours, deterministically (a SHA-256 of prompt and seed, see
`seeds.py`; the colours come from the prompt's theme keywords in `palette.py`):

- `posterise`: the luma is cut into 4-6 bands, each painted one colour of the theme, darkest to lightest;
- `duotone`: the luma maps onto a ramp from a dark theme colour to a light one;
- `film`: per-channel S-curves lifted towards a shadow tint and rolled towards a highlight tint,
  slightly desaturated, with a vignette.

Every look is a lookup table applied to the frame at output size, so it costs a few milliseconds a
frame. Brightness order is kept (dark stays darker than light), so the input's motion stays visible.

Reframing: the picture is cover-fitted (scaled to cover width x height, the overflow cropped, centred),
like the image kinds: no bars, at the price of the edges of a differently shaped input. Rotation
metadata (the display matrix PyAV exposes as `frame.rotation`) is applied first, so a phone video
shot upright stays upright.

Retiming: output frame i shows the input frame whose timestamp (from the first frame) is nearest
i / fps; if the input is shorter than the requested duration, its last frame is held. The input is
decoded one frame at a time, in order, and decoding stops once the last output frame is chosen: at most
two decoded frames are held, whatever the length of the input.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from fractions import Fraction

import av
import numpy as np
from PIL import Image

from reelforge.domain.errors import invalid
from reelforge.engines.draft.caption import Caption
from reelforge.engines.draft.palette import theme_for
from reelforge.engines.draft.seeds import rng_for
from reelforge.media.encode import fps_fraction
from reelforge.media.yuv import KB, KG, KR, rgb_to_i420

STYLES = ("posterise", "duotone", "film")


def _luma(rgb: np.ndarray) -> np.ndarray:
    """BT.709 luma 0-255 of RGB colours (floats, ... x 3)."""
    return rgb[..., 0] * KR + rgb[..., 1] * KG + rgb[..., 2] * KB


class Grade:
    """The colour transform of one prompt and seed, as lookup tables over uint8 RGB frames."""

    def __init__(self, prompt: str, seed: int) -> None:
        rng = rng_for("draft.restyle", prompt, seed)
        theme = theme_for(prompt, rng)
        self.theme = theme.name
        self.style = STYLES[int(rng.integers(len(STYLES)))]
        colours = np.vstack([theme.sky_top, theme.ground, theme.accents, theme.horizon, theme.particle]) * 255
        colours = colours[np.argsort(_luma(colours), kind="stable")]
        # A near-black and a near-white tinted by the theme give every look its full tonal range.
        dark, light = colours[0] * 0.3, colours[-1] * 0.5 + 127.5
        levels = np.arange(256, dtype=np.float32)

        self._by_luma: np.ndarray | None = None  # 256 x 3: the colour for each luma
        self._curves: np.ndarray | None = None  # 3 x 256: a curve per channel
        self._vignette = 0.0
        if self.style == "posterise":
            bands = int(rng.integers(4, 7))
            ramp = np.vstack([dark, colours, light])
            picks = ramp[np.round(np.linspace(0, len(ramp) - 1, bands)).astype(int)]
            self._by_luma = picks[np.minimum(levels.astype(int) * bands // 256, bands - 1)]
        elif self.style == "duotone":
            shadow, highlight = colours[0] * 0.5, colours[-1] * 0.6 + 102
            gamma = float(rng.uniform(0.8, 1.25))
            p = ((levels / 255) ** gamma)[:, None]
            self._by_luma = shadow * (1 - p) + highlight * p
        else:
            contrast = float(rng.uniform(0.2, 0.45))
            x = levels / 255
            s = x + contrast * (x - 0.5) * (1 - np.abs(2 * x - 1))  # a soft S-curve, 0 -> 0, 1 -> 1
            lift, gain = colours[0] * 0.5, 255 - (255 - colours[-1]) * 0.4
            self._curves = lift[:, None] + (gain - lift)[:, None] * s[None, :]
            self._saturation = float(rng.uniform(0.55, 0.75))
            self._vignette = float(rng.uniform(0.25, 0.4))
        if self._by_luma is not None:
            self._by_luma = np.clip(np.rint(self._by_luma), 0, 255).astype(np.uint8)
        if self._curves is not None:
            self._curves = np.clip(np.rint(self._curves), 0, 255).astype(np.uint8)
        self._vignette_cache: tuple[tuple[int, int], np.ndarray] | None = None

    def _vignette_mask(self, height: int, width: int) -> np.ndarray:
        if self._vignette_cache is None or self._vignette_cache[0] != (height, width):
            y = np.linspace(-1, 1, height, dtype=np.float32)[:, None]
            x = np.linspace(-1, 1, width, dtype=np.float32)[None, :]
            mask = 1 - self._vignette * np.clip((x * x + y * y) / 2, 0, 1) ** 1.5
            self._vignette_cache = ((height, width), mask[..., None])
        return self._vignette_cache[1]

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        """The graded copy of an H x W x 3 uint8 RGB frame."""
        if self._by_luma is not None:
            luma = np.right_shift(
                rgb[..., 0] * np.uint16(54) + rgb[..., 1] * np.uint16(183) + rgb[..., 2] * np.uint16(19), 8
            )
            return self._by_luma[luma]
        assert self._curves is not None
        graded = np.stack([self._curves[c][rgb[..., c]] for c in range(3)], axis=-1).astype(np.float32)
        grey = _luma(graded)[..., None]
        graded = grey + (graded - grey) * self._saturation
        graded *= self._vignette_mask(*rgb.shape[:2])
        return np.clip(graded + 0.5, 0, 255).astype(np.uint8)


def cover_box(src_w: int, src_h: int, width: int, height: int) -> tuple[float, float, float, float]:
    """The centred crop (left, top, right, bottom) of a src_w x src_h picture with the output's aspect."""
    scale = max(width / src_w, height / src_h)
    w, h = width / scale, height / scale
    left, top = (src_w - w) / 2, (src_h - h) / 2
    return (left, top, left + w, top + h)


def _upright(frame: av.VideoFrame) -> np.ndarray:
    """The frame as RGB, turned by its display-matrix rotation (counterclockwise degrees)."""
    rgb = frame.to_ndarray(format="rgb24")
    turns = round(getattr(frame, "rotation", 0) or 0) // 90 % 4
    return np.ascontiguousarray(np.rot90(rgb, k=turns)) if turns else rgb


class VideoRestyle:
    """Output frames of a restyled input video; `frame(i)` must be asked in increasing order of i
    (the input is decoded as it goes). Call `close()` when done."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        prompt: str,
        seed: int,
        fps: float,
        width: int,
        height: int,
        n_frames: int,
        caption: bool = True,
    ) -> None:
        self.width, self.height, self.n_frames = width, height, n_frames
        self.grade = Grade(prompt, seed)
        self._rate = fps_fraction(fps)
        self._caption = Caption(prompt, width, height) if caption and prompt.strip() else None
        try:
            self._container = av.open(os.fspath(path))
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise invalid(f"the input video cannot be read: {exc}", "/video") from None
        try:
            if not self._container.streams.video:
                raise invalid("the input has no video stream", "/video")
            self._frames = self._decode(self._container.streams.video[0])
            current = self._advance()
            if current is None:
                raise invalid("the input video has no frames", "/video")
        except BaseException:
            self._container.close()
            raise
        self._current: tuple[float, av.VideoFrame] = current
        self._next = self._advance()
        self._t0 = current[0]
        self._last_asked = -1
        self._rendered_for: av.VideoFrame | None = None
        self._rendered: np.ndarray | None = None

    def _decode(self, stream: av.video.stream.VideoStream) -> Generator[tuple[float, av.VideoFrame], None, None]:
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        last = None
        for index, frame in enumerate(self._container.decode(stream)):
            t = float(frame.time) if frame.time is not None else float(index / rate)
            if last is not None and t < last:  # a stray timestamp going backwards: keep the order
                t = last
            last = t
            yield t, frame

    def _advance(self) -> tuple[float, av.VideoFrame] | None:
        try:
            return next(self._frames, None)
        except av.FFmpegError as exc:
            raise invalid(f"the input video cannot be decoded: {exc}", "/video") from None

    def source_time(self, i: int) -> float:
        """The input timestamp (seconds from its first frame) that output frame i wants."""
        return float(i / self._rate)

    def frame(self, i: int) -> np.ndarray:
        """Output frame i as an I420 array (read-only; a held input frame returns the same array)."""
        if i < self._last_asked:
            raise ValueError(f"frames are decoded in order: asked for {i} after {self._last_asked}")
        self._last_asked = i
        t = self._t0 + self.source_time(i)
        # Nearest input frame: step on while the next one is at least as close.
        while self._next is not None and abs(self._next[0] - t) <= abs(self._current[0] - t):
            self._current, self._next = self._next, self._advance()
        source = self._current[1]
        if self._rendered is None or self._rendered_for is not source:
            self._rendered = self._render(source)
            self._rendered_for = source
        return self._rendered

    def _render(self, source: av.VideoFrame) -> np.ndarray:
        rgb = _upright(source)
        h, w = rgb.shape[:2]
        box = cover_box(w, h, self.width, self.height)
        fitted = np.asarray(Image.fromarray(rgb).resize((self.width, self.height), Image.Resampling.BILINEAR, box=box))
        frame = rgb_to_i420(self.grade.apply(fitted))
        if self._caption is not None:
            self._caption.apply(frame)
        frame.flags.writeable = False
        return frame

    def close(self) -> None:
        self._frames.close()
        self._container.close()

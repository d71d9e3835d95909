"""The prompt drawn as a caption on a translucent box at the bottom of the frame.

The draft engine is a preview: writing the prompt on the video shows at a glance which request a
clip belongs to. The box is rendered once with Pillow, converted once to premultiplied Y, U, V planes,
and alpha-blended onto each I420 frame with integer numpy arithmetic over the box only: a fraction
of a millisecond per 720p frame.

The text is set over the project's font stack (`reelforge.media.fonts`: Noto for every script, from
PyPI wheels, never a system font) by `reelforge.media.text`, so a prompt in Chinese, Arabic, Hindi or
Thai is drawn in its own glyphs, shaped, not as placeholder boxes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw

from reelforge.media.fonts import stack
from reelforge.media.text import draw_line, line_metrics, measurer
from reelforge.media.yuv import planes, rgb_to_yuv

_BOX_ALPHA = 150  # 0-255: dark enough for white text over any scene, light enough to see through


def _wrap(text: str, length: Callable[[str], float], max_width: int, max_lines: int) -> list[str]:
    """Greedy word wrap by measured width; over-long words are split; overflow ends in '...'."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if length(candidate) <= max_width:
            current = candidate
            continue
        if current:
            lines.append(current)
        # A word wider than the box (a URL, a run of CJK) is broken by characters.
        current = ""
        for char in word:
            if current and length(current + char) > max_width:
                lines.append(current)
                current = char
            else:
                current += char
    if current:
        lines.append(current)

    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        while last and length(last + "...") > max_width:
            last = last[:-1]
        lines = [*lines[: max_lines - 1], last.rstrip() + "..."]
    return lines


class _Overlay:
    """One plane's share of the caption: premultiplied values and inverse alpha, both scaled by 255."""

    def __init__(self, values: np.ndarray, alpha: np.ndarray) -> None:
        # out = (plane * (255 - a) + value * a + 127) // 255, which fits uint16: at most 255 * 255 + 127.
        self.premultiplied = (np.rint(values * alpha) + 127).astype(np.uint16)
        self.inverse_alpha = (255 - np.rint(alpha)).astype(np.uint16)

    def blend(self, region: np.ndarray) -> None:
        mixed = region.astype(np.uint16)
        mixed *= self.inverse_alpha
        mixed += self.premultiplied
        mixed //= 255
        region[...] = mixed


class Caption:
    """A pre-rendered caption for I420 frames of one size; `apply` blends it onto a frame in place."""

    def __init__(self, text: str, width: int, height: int) -> None:
        short_side = min(width, height)
        font_size = max(9, round(short_side * 0.05))
        faces = stack("sans")
        length = measurer(faces, font_size)
        pad = max(3, round(font_size * 0.5))
        max_lines = 3 if short_side >= 240 else 2
        lines = _wrap(" ".join(text.split()), length, int(width * 0.88) - 2 * pad, max_lines)
        self.lines = lines
        self.font_size = font_size
        self._overlays: list[_Overlay] = []
        if not lines:
            return

        metrics = [line_metrics(line, faces, font_size) for line in lines]
        ascent, descent = max(a for a, _ in metrics), max(d for _, d in metrics)
        line_height = ascent + descent
        spacing = round(font_size * 0.15)
        text_w = max(round(length(line)) for line in lines)
        # Even sizes and offsets, so the box covers whole 2x2 chroma blocks.
        box_w = min(width, text_w + 2 * pad + 1) // 2 * 2
        box_h = min(height, len(lines) * line_height + (len(lines) - 1) * spacing + 2 * pad + 1) // 2 * 2

        box = Image.new("RGBA", (box_w, box_h), (0, 0, 0, 0))
        draw = ImageDraw.Draw(box)
        draw.rounded_rectangle((0, 0, box_w - 1, box_h - 1), radius=pad, fill=(0, 0, 0, _BOX_ALPHA))
        for i, line in enumerate(lines):
            baseline = pad + i * (line_height + spacing) + ascent
            draw_line(draw, (box_w / 2, baseline), line, faces, font_size, (255, 255, 255, 255))

        rgba = np.asarray(box, dtype=np.float32)
        alpha = rgba[..., 3] / 255
        yuv = rgb_to_yuv(rgba[..., :3])
        # Chroma is blended at half resolution with the 2x2 mean alpha and alpha-weighted colour.
        alpha_c = alpha.reshape(box_h // 2, 2, box_w // 2, 2).mean(axis=(1, 3))
        weighted = (yuv[..., 1:] * alpha[..., None]).reshape(box_h // 2, 2, box_w // 2, 2, 2).mean(axis=(1, 3))
        chroma = weighted / np.maximum(alpha_c, 1e-6)[..., None]
        self._overlays = [
            _Overlay(yuv[..., 0], alpha * 255),
            _Overlay(chroma[..., 0], alpha_c * 255),
            _Overlay(chroma[..., 1], alpha_c * 255),
        ]
        self._left = (width - box_w) // 4 * 2
        self._top = max(0, height - box_h - max(2, round(height * 0.06))) // 2 * 2
        self.box = (self._left, self._top, box_w, box_h)

    def apply(self, frame: np.ndarray) -> np.ndarray:
        """Blend the caption onto an I420 `frame` in place and return it."""
        if not self._overlays:
            return frame
        for index, (plane, overlay) in enumerate(zip(planes(frame), self._overlays, strict=True)):
            scale = 1 if index == 0 else 2
            top, left = self._top // scale, self._left // scale
            h, w = overlay.premultiplied.shape
            overlay.blend(plane[top : top + h, left : left + w])
        return frame

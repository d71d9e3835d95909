"""Text set with Pillow over the font stack: measured and drawn run by run, each run in its own font.

Pillow opens one font file at a time and has no fallback, so a line is split into runs that one face
of the stack covers (`reelforge.media.fonts.runs`), each run is shaped by Pillow's raqm layout
(HarfBuzz + FriBiDi: Arabic joining, Devanagari conjuncts, Thai marks) and the runs are placed on one
baseline. A line whose first strong character is right-to-left (Arabic, Hebrew) has its runs placed
right to left; inside a run raqm orders the characters. This is enough for captions and for choosing
line breaks; the compositor's own text is drawn by libass, which does the full bidi algorithm.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable, Sequence

from PIL import ImageDraw, ImageFont

from reelforge.media.fonts import FontFace, runs

_RTL = {"R", "AL"}
REGULAR_WEIGHT = 400.0


@functools.lru_cache(maxsize=128)
def pil_font(face: FontFace, size: int) -> ImageFont.FreeTypeFont:
    """The face at `size` pixels, with raqm layout when Pillow has it (its wheels do)."""
    layout = ImageFont.Layout.RAQM if ImageFont.core.HAVE_RAQM else ImageFont.Layout.BASIC
    font = ImageFont.truetype(str(face.path), max(1, size), index=face.index, layout_engine=layout)
    axis = face.weight_axis
    if axis is not None:  # a variable font's default instance may be Thin (Noto Sans CJK's is): use Regular
        font.set_variation_by_axes([min(max(REGULAR_WEIGHT, axis[0]), axis[1])])
    return font


def is_rtl(text: str) -> bool:
    """Whether the first strong character of `text` is right-to-left (the line's base direction)."""
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind in _RTL:
            return True
        if kind == "L":
            return False
    return False


def _visual_runs(text: str, faces: Sequence[FontFace]) -> list[tuple[str, FontFace]]:
    pieces = runs(text, faces)
    return pieces[::-1] if is_rtl(text) else pieces


def measure(text: str, faces: Sequence[FontFace], size: int) -> float:
    """The advance width of one line of `text` at `size` pixels."""
    return sum(pil_font(face, size).getlength(piece) for piece, face in runs(text, faces))


def measurer(faces: Sequence[FontFace], size: int) -> Callable[[str], float]:
    """`measure` bound to a stack and size, for wrapping."""
    return functools.partial(_measure_bound, tuple(faces), size)


def _measure_bound(faces: tuple[FontFace, ...], size: int, text: str) -> float:
    return measure(text, faces, size)


def line_metrics(text: str, faces: Sequence[FontFace], size: int) -> tuple[int, int]:
    """(ascent, descent) of the tallest face a line of `text` uses (the first face's for an empty line)."""
    used = {face for _, face in runs(text, faces)} or {faces[0]}
    metrics = [pil_font(face, size).getmetrics() for face in used]
    return max(a for a, _ in metrics), max(d for _, d in metrics)


def draw_line(
    draw: ImageDraw.ImageDraw,
    xy: tuple[float, float],
    text: str,
    faces: Sequence[FontFace],
    size: int,
    fill: tuple[int, int, int, int],
    align: str = "center",
) -> None:
    """Draw one line with its baseline at `xy[1]`; `xy[0]` is its left edge, middle or right edge
    (`align` = left, center, right)."""
    pieces = _visual_runs(text, faces)
    widths = [pil_font(face, size).getlength(piece) for piece, face in pieces]
    total = sum(widths)
    x = xy[0] - {"left": 0.0, "center": total / 2, "right": total}[align]
    for (piece, face), width in zip(pieces, widths, strict=True):
        direction = "rtl" if is_rtl(piece) and ImageFont.core.HAVE_RAQM else None
        draw.text((x, xy[1]), piece, font=pil_font(face, size), fill=fill, anchor="ls", direction=direction)
        x += width

"""Where a visual element goes: fit mode, scale, anchor and offset -> pixel sizes and a position.

Pure arithmetic, kept apart from the graph compiler so the rules are easy to read and test:

- the element's box is the frame scaled by `scale`;
- `cover` fills the box and crops the overflow (centred), `contain` fits inside the box (letterboxed by
  whatever is below), `fill` stretches to the box;
- the anchor puts the element's matching point on the frame's (`bottomRight` -> flush with the bottom
  right corner), then `offset` shifts it by fractions of the frame (x right, y down).

Every size is even: 4:2:0 chroma is subsampled 2x2, and odd sizes would shift colour by half a pixel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from reelforge.domain.template import ANCHORS


@dataclass(frozen=True)
class Placement:
    scale_width: int  # scale the source to this size ...
    scale_height: int
    width: int  # ... then crop (centred) to this size: the element as drawn
    height: int
    x: int  # top-left corner in the frame; may be negative or past the edge
    y: int

    @property
    def cropped(self) -> bool:
        return (self.width, self.height) != (self.scale_width, self.scale_height)

    def covers(self, frame_width: int, frame_height: int) -> bool:
        """True when the element is exactly the frame: no need to place it on a canvas."""
        return (self.x, self.y, self.width, self.height) == (0, 0, frame_width, frame_height)


def even(value: float) -> int:
    """The nearest even integer, at least 2."""
    return max(2, 2 * round(value / 2))


def _even_up(value: float) -> int:
    return max(2, 2 * math.ceil(value / 2 - 1e-9))


def place(
    source_width: int,
    source_height: int,
    *,
    fit: str,
    scale: float,
    position: str,
    offset_x: float,
    offset_y: float,
    frame_width: int,
    frame_height: int,
) -> Placement:
    """The sizes and position of a `source_width` x `source_height` element (display size, after rotation)."""
    box_width, box_height = frame_width * scale, frame_height * scale
    if fit == "fill":
        width, height = even(box_width), even(box_height)
        scaled = (width, height)
    elif fit == "contain":
        ratio = min(box_width / source_width, box_height / source_height)
        width, height = even(source_width * ratio), even(source_height * ratio)
        scaled = (width, height)
    elif fit == "cover":
        ratio = max(box_width / source_width, box_height / source_height)
        width, height = even(box_width), even(box_height)
        scaled = (max(width, _even_up(source_width * ratio)), max(height, _even_up(source_height * ratio)))
    else:
        raise ValueError(f"unknown fit {fit!r}")
    anchor_x, anchor_y = ANCHORS[position]
    x = round((frame_width - width) * anchor_x + offset_x * frame_width)
    y = round((frame_height - height) * anchor_y + offset_y * frame_height)
    return Placement(scaled[0], scaled[1], width, height, x, y)


def visible_part(placement: Placement, frame_width: int, frame_height: int) -> tuple[int, int, int, int] | None:
    """(crop x, crop y, width, height) of the element that lies inside the frame, or None if none does."""
    left, top = max(0, -placement.x), max(0, -placement.y)
    right = min(placement.width, frame_width - placement.x)
    bottom = min(placement.height, frame_height - placement.y)
    if right - left <= 0 or bottom - top <= 0:
        return None
    return left, top, right - left, bottom - top

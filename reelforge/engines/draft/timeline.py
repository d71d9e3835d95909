"""Clips laid end to end with crossfades, keeping the total frame count exact.

A long video is one segment per prompt. Cutting from one to the next is jarring, so neighbouring
segments overlap by a short crossfade centred on their boundary; each segment is rendered slightly
longer instead of the video getting shorter, so `duration` stays exactly what was asked.

Frames are uint8 arrays of any one layout (the draft engine uses I420); a crossfade is a per-sample
linear mix, which is correct in YUV as in RGB because the RGB -> YUV transform is affine.
"""

from __future__ import annotations

import itertools
from typing import Protocol

import numpy as np

from reelforge.engines.draft.scene import ease


class Clip(Protocol):
    n_frames: int

    def frame(self, i: int) -> np.ndarray:
        """Frame i (0 <= i < n_frames) as an I420 uint8 array (see `reelforge.media.yuv`)."""


def segment_spans(total_frames: int, segments: int, crossfade_frames: int) -> list[tuple[int, int]]:
    """[start, end) global frame ranges, one per segment, overlapping by the crossfade at each cut.

    Cuts sit at round(j * total / segments). The crossfade is shortened if a segment is too short to
    hold one at each end.
    """
    if segments < 1 or total_frames < segments:
        raise ValueError(f"cannot split {total_frames} frames into {segments} segments")
    cuts = [round(j * total_frames / segments) for j in range(segments + 1)]
    shortest = min(b - a for a, b in itertools.pairwise(cuts))
    fade = max(0, min(crossfade_frames, shortest // 2)) if segments > 1 else 0
    before, after = fade // 2, fade - fade // 2
    spans = []
    for j in range(segments):
        start = cuts[j] - before if j > 0 else 0
        end = cuts[j + 1] + after if j < segments - 1 else total_frames
        spans.append((start, end))
    return spans


def mix(a: np.ndarray, b: np.ndarray, weight: int) -> np.ndarray:
    """(a * (256 - weight) + b * weight) / 256 per sample, for uint8 frames and an integer weight 0..256."""
    if weight <= 0:
        return a
    if weight >= 256:
        return b
    out = a.astype(np.uint16)
    out *= 256 - weight
    out += b.astype(np.uint16) * weight
    out >>= 8
    return out.astype(np.uint8)


class Timeline:
    """Global frame g -> the frame of the clip that covers it, or a blend of two during a crossfade.

    The incoming clip's weight rises linearly across the overlap, or along an ease-in-out if `eased`
    (gentler at both ends: a slideshow's dissolve).
    """

    def __init__(self, clips: list[Clip], spans: list[tuple[int, int]], *, eased: bool = False) -> None:
        if len(clips) != len(spans) or not clips:
            raise ValueError("one span per clip, at least one clip")
        for clip, (start, end) in zip(clips, spans, strict=True):
            if clip.n_frames != end - start:
                raise ValueError(f"a clip of {clip.n_frames} frames cannot fill span {start}..{end}")
        self.clips = clips
        self.spans = spans
        self.eased = eased
        self.n_frames = spans[-1][1]

    def frame(self, g: int) -> np.ndarray:
        covering = [
            (clip, start, end) for clip, (start, end) in zip(self.clips, self.spans, strict=True) if start <= g < end
        ]
        if len(covering) == 1:
            clip, start, _ = covering[0]
            return clip.frame(g - start)
        (a, a_start, a_end), (b, b_start, _) = covering[:2]
        # Weight of the incoming clip rises from just above 0 to just below 1 across the overlap.
        p = (g - b_start + 1) / (a_end - b_start + 1)
        weight = round(256 * (ease(p) if self.eased else p))
        if weight <= 0:
            return a.frame(g - a_start)
        if weight >= 256:
            return b.frame(g - b_start)
        return mix(a.frame(g - a_start), b.frame(g - b_start), weight)

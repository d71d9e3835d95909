"""Size standardisation of the Agnes-Video-V2.0 contract: any width x height maps to the nearest
standard aspect ratio (16:9, 9:16, 1:1, 4:3, 3:4) at the nearest resolution tier (480p, 720p, 1080p).

The ratio is chosen by the smallest log-distance of width/height; the tier by the short side. The
output always has that tier as its short side, e.g. 1152x768 (3:2) -> 4:3 at 720p -> 960x720.
"""

from __future__ import annotations

import math

ASPECTS: dict[str, tuple[int, int]] = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1), "4:3": (4, 3), "3:4": (3, 4)}
TIERS = {"480p": 480, "720p": 720, "1080p": 1080}


def standard_size(aspect: str, tier: str) -> tuple[int, int]:
    w_ratio, h_ratio = ASPECTS[aspect]
    short = TIERS[tier]
    long = 2 * round(short * max(w_ratio, h_ratio) / min(w_ratio, h_ratio) / 2)
    return (long, short) if w_ratio > h_ratio else (short, long) if w_ratio < h_ratio else (short, short)


def standardize(width: int, height: int) -> tuple[int, int, str, str]:
    """(width, height, aspect, tier) actually used for a requested `width` x `height`."""
    ratio = width / height
    aspect = min(ASPECTS, key=lambda a: abs(math.log(ratio * ASPECTS[a][1] / ASPECTS[a][0])))
    tier = min(TIERS, key=lambda t: abs(TIERS[t] - min(width, height)))
    return (*standard_size(aspect, tier), aspect, tier)


def table() -> list[tuple[str, str, str]]:
    """(tier, aspect, "WxH") rows: the documented table, generated from the same code."""
    return [(tier, aspect, "x".join(map(str, standard_size(aspect, tier)))) for tier in TIERS for aspect in ASPECTS]

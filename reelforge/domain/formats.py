"""Output formats: aspect ratio x quality preset -> resolution, frame rate, x264 preset, CRF, audio bitrate.

A quality names the frame's shorter side (360, 720, 1080), so a 9:16 `web` video is 720x1280 and a
16:9 one 1280x720: the same sharpness in either orientation. Every size is even, as H.264 4:2:0 needs.
The table is documented in `docs/compose.md`; change both together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from reelforge.domain.errors import invalid


@dataclass(frozen=True)
class QualityPreset:
    short_side: int
    fps: int
    preset: str  # x264 speed/size trade-off
    crf: int  # x264 constant rate factor: lower is better and bigger
    audio_bitrate: str  # AAC


@dataclass(frozen=True)
class OutputFormat:
    width: int
    height: int
    fps: int
    preset: str
    crf: int
    audio_bitrate: str


ASPECT_RATIOS: dict[str, tuple[int, int]] = {
    "16:9": (16, 9),
    "9:16": (9, 16),
    "1:1": (1, 1),
    "4:5": (4, 5),
    "4:3": (4, 3),
}

QUALITIES: dict[str, QualityPreset] = {
    # an extension of the AVS table: small and fast, for checking a template before the real render
    "preview": QualityPreset(short_side=240, fps=15, preset="ultrafast", crf=30, audio_bitrate="64k"),
    "draft": QualityPreset(short_side=360, fps=24, preset="veryfast", crf=28, audio_bitrate="96k"),
    "web": QualityPreset(short_side=720, fps=30, preset="veryfast", crf=23, audio_bitrate="128k"),
    "studio": QualityPreset(short_side=1080, fps=30, preset="medium", crf=18, audio_bitrate="192k"),
}

DEFAULT_ASPECT_RATIO = "16:9"
DEFAULT_QUALITY = "web"

OUTPUT_FORMATS = ("mp4", "webm", "gif")
"""Containers the compositor writes: MP4 (H.264 + AAC, the default and the AVS contract's only one),
WebM (VP9 + Opus) and GIF (no sound); the last two are reelforge extensions."""
MAX_GIF_SECONDS = 60.0
FILE_SUFFIX = {"mp4": ".mp4", "webm": ".webm", "gif": ".gif"}


def frame_size(aspect_ratio: str, short_side: int) -> tuple[int, int]:
    """(width, height) for an aspect ratio whose shorter side is `short_side`, both rounded to even."""
    across, down = ASPECT_RATIOS[aspect_ratio]
    if across >= down:
        return _even(short_side * across / down), short_side
    return short_side, _even(short_side * down / across)


def output_format(
    aspect_ratio: str = DEFAULT_ASPECT_RATIO, quality: str = DEFAULT_QUALITY, *, prefix: str = "/output"
) -> OutputFormat:
    """The render settings for `output.aspectRatio` and `output.quality`; `invalid` naming the field otherwise."""
    if aspect_ratio not in ASPECT_RATIOS:
        raise invalid(
            f"aspectRatio must be one of {', '.join(ASPECT_RATIOS)}, got {aspect_ratio!r}", f"{prefix}/aspectRatio"
        )
    if quality not in QUALITIES:
        raise invalid(f"quality must be one of {', '.join(QUALITIES)}, got {quality!r}", f"{prefix}/quality")
    preset = QUALITIES[quality]
    width, height = frame_size(aspect_ratio, preset.short_side)
    return OutputFormat(
        width=width,
        height=height,
        fps=preset.fps,
        preset=preset.preset,
        crf=preset.crf,
        audio_bitrate=preset.audio_bitrate,
    )


def _even(value: float) -> int:
    return max(2, 2 * round(value / 2))


# Aspect-ratio rules for the generation dialects: any "W:H" string, the short side given by the model.


def size_for_aspect(aspect: str, short_side: int) -> tuple[int, int]:
    """Width and height for `aspect` ("16:9") whose short side is `short_side`; both even (H.264 4:2:0)."""
    w_ratio, h_ratio = (int(part) for part in aspect.split(":"))
    if w_ratio >= h_ratio:
        return 2 * math.ceil(short_side * w_ratio / h_ratio / 2), short_side
    return short_side, 2 * math.ceil(short_side * h_ratio / w_ratio / 2)


def nearest_aspect(size: tuple[int, int], choices: list[str]) -> str:
    width, height = size
    return min(choices, key=lambda a: abs(math.log((width / height) / (int(a.split(":")[0]) / int(a.split(":")[1])))))

"""The screen-recording analysis of an AVS prompt job (priced 5 credits): where the picture changes and where
something happens.

One ffmpeg pass over a small copy of the video (320 px wide, 10 fps: the analysis looks for change, not
detail) runs two filters: `select='gt(scene,T)'` + `showinfo` for scene changes (a new window, a page
load) and `freezedetect` for still stretches (nobody typing, nothing moving). Active segments are what is
left between the freezes; the planner cuts its highlights from them (`engines/creator/plan.py`).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg

SCENE_THRESHOLD = 0.3
"""ffmpeg's scene score (0-1) above which a frame starts a new scene."""
FREEZE_NOISE = 0.003
FREEZE_SECONDS = 0.5
"""A stretch counts as still after this long without change."""
MIN_ACTIVE_SECONDS = 0.5
TIMEOUT_SECONDS = 300

_SCENE = re.compile(r"pts_time:(\d+(?:\.\d+)?)")
_FREEZE_START = re.compile(r"freeze_start: (\d+(?:\.\d+)?)")
_FREEZE_END = re.compile(r"freeze_end: (\d+(?:\.\d+)?)")


@dataclass(frozen=True)
class ScreenAnalysis:
    duration: float
    scene_changes: tuple[float, ...]
    """Seconds at which a new scene starts."""
    active: tuple[tuple[float, float], ...]
    """(start, end) seconds of each stretch with motion, in order."""


def analyse(path: Path, duration: float) -> ScreenAnalysis:
    """Scene changes and active segments of the video at `path` (`duration` seconds long). Blocking."""
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-hide_banner",
        "-nostats",
        "-i",
        str(path),
        "-an",
        "-vf",
        f"fps=10,scale=320:-2,freezedetect=n={FREEZE_NOISE}:d={FREEZE_SECONDS},"
        f"select='gt(scene,{SCENE_THRESHOLD})',showinfo",
        "-f",
        "null",
        "-",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False)
    if done.returncode != 0:
        raise ValueError(f"ffmpeg could not analyse the screen recording: {done.stderr.strip()[-300:]}")
    return parse(done.stderr, duration)


def parse(log: str, duration: float) -> ScreenAnalysis:
    """The analysis from ffmpeg's log of the pass above (pure, so it is tested without a video)."""
    scenes = tuple(sorted({round(float(t), 3) for t in _SCENE.findall(log) if 0 < float(t) < duration}))
    starts = [float(t) for t in _FREEZE_START.findall(log)]
    ends = [float(t) for t in _FREEZE_END.findall(log)]
    freezes = [(start, ends[i] if i < len(ends) else duration) for i, start in enumerate(starts)]
    active: list[tuple[float, float]] = []
    cursor = 0.0
    for start, end in sorted(freezes):
        if start - cursor >= MIN_ACTIVE_SECONDS:
            active.append((round(cursor, 3), round(start, 3)))
        cursor = max(cursor, end)
    if duration - cursor >= MIN_ACTIVE_SECONDS:
        active.append((round(cursor, 3), round(duration, 3)))
    return ScreenAnalysis(duration=duration, scene_changes=scenes, active=tuple(active))

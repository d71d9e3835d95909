"""A spritesheet: one JPEG grid of frames sampled evenly across a video (OpenAI's `variant=spritesheet`).

Made once, when the worker stores a finished video, so `/content?variant=spritesheet` is a file read. The
grid is `COLUMNS` wide with up to `FRAMES` tiles in reading order; frame k is taken at (k + 0.5) / FRAMES of
the duration, so the first and last tiles are near, not at, the ends (fades). Each tile keeps the video's
aspect with its longer side `TILE` pixels. Seeking to each time (not decoding every frame) keeps the cost
flat in the video's length.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from PIL import Image

FRAMES = 16
COLUMNS = 4
TILE = 256
SEQUENTIAL_FRAMES = 3000
"""Videos up to this many frames are decoded in one pass; longer ones seek to each sampled time."""


def write_spritesheet(video: Path, target: Path, frames: int = FRAMES, columns: int = COLUMNS) -> Path:
    """Sample `frames` frames of `video` into a `columns`-wide JPEG grid at `target`."""
    tiles = _sample(video, frames)
    if not tiles:
        raise ValueError(f"{video.name} has no decodable video frame")
    width, height = tiles[0].size
    rows = -(-len(tiles) // columns)
    sheet = Image.new("RGB", (width * min(columns, len(tiles)), height * rows))
    for index, tile in enumerate(tiles):
        sheet.paste(tile, ((index % columns) * width, (index // columns) * height))
    target.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(target, format="JPEG", quality=80, optimize=True)
    return target


def _sample(video: Path, frames: int) -> list[Image.Image]:
    tiles: list[Image.Image] = []
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        duration = _duration(container, stream)
        times = [(k + 0.5) / frames * duration for k in range(frames)]
        rate = float(stream.average_rate or 24)
        if duration * rate <= SEQUENTIAL_FRAMES:  # short: one decoding pass beats a seek per tile
            chosen = _sequential(container, stream, times)
        else:
            chosen = [frame for at in times if (frame := _frame_at(container, stream, at)) is not None]
        size: tuple[int, int] | None = None
        for frame in chosen:
            image = Image.fromarray(np.ascontiguousarray(frame.to_ndarray(format="rgb24")))
            if size is None:
                scale = TILE / max(image.size)
                size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            tiles.append(image.resize(size, Image.Resampling.BILINEAR))
    return tiles


def _sequential(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, times: list[float]
) -> list[av.VideoFrame]:
    """The first frame at or after each of `times` (ascending), in one pass."""
    chosen: list[av.VideoFrame] = []
    last = None
    for frame in container.decode(stream):
        last = frame
        while len(chosen) < len(times) and frame.time is not None and frame.time + 1e-6 >= times[len(chosen)]:
            chosen.append(frame)
        if len(chosen) == len(times):
            break
    while last is not None and len(chosen) < len(times):
        chosen.append(last)
    return chosen


def _duration(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return 0.0


def _frame_at(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, seconds: float
) -> av.VideoFrame | None:
    """The first frame at or after `seconds` (seek to the keyframe before it, decode forward)."""
    assert stream.time_base is not None
    target = int(seconds / stream.time_base)
    container.seek(target, stream=stream, backward=True, any_frame=False)
    last = None
    for frame in container.decode(stream):
        last = frame
        if frame.pts is not None and frame.pts >= target:
            return frame
    return last

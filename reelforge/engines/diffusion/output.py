"""Pipeline frames -> the requested MP4 and thumbnail.

The pipeline may have generated a little more than was asked (see `constraints`: sizes and frame
counts are snapped up to what the model makes); here the extra is cropped equally from both sides and
the extra frames dropped from the end, so the file has exactly the requested size and frame count.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from reelforge.engines.diffusion.constraints import Plan
from reelforge.media.encode import VideoWriter, write_thumbnail


def to_uint8(frames: object) -> np.ndarray:
    """`output_type="np"` frames (F x H x W x 3 floats in 0..1; or a list of PIL images) as uint8."""
    if isinstance(frames, list):  # PIL images
        return np.stack([np.asarray(frame.convert("RGB")) for frame in frames])
    array = np.asarray(frames)
    if array.dtype == np.uint8:
        return array
    return (np.clip(array, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def fit_to_plan(frames: np.ndarray, plan: Plan) -> np.ndarray:
    """Crop the snapped-up generation to the requested size and frame count (a view, no copy)."""
    top = (frames.shape[1] - plan.out_height) // 2
    left = (frames.shape[2] - plan.out_width) // 2
    return frames[: plan.out_frames, top : top + plan.out_height, left : left + plan.out_width]


def write_video(
    frames: np.ndarray,
    fps: float,
    workdir: Path,
    *,
    crf: int,
    preset: str,
    threads: int,
    on_frame: Callable[[int], None] | None = None,
) -> tuple[Path, Path]:
    """Encode `frames` to `video.mp4` and the first one to `thumbnail.jpg` in `workdir`."""
    video_path, thumbnail_path = workdir / "video.mp4", workdir / "thumbnail.jpg"
    count, height, width = frames.shape[:3]
    with VideoWriter(video_path, width, height, fps, crf=crf, preset=preset, threads=threads) as writer:
        for i in range(count):
            writer.write(frames[i])
            if on_frame is not None:
                on_frame(i)
    write_thumbnail(frames[0], thumbnail_path)
    return video_path, thumbnail_path

"""Pipeline frames -> the requested MP4 and thumbnail.

The pipeline may have generated a little more than was asked (see `constraints`: sizes and frame
counts are snapped up to what the model makes); here the extra is cropped equally from both sides and
the extra frames dropped from the end, so the file has exactly the requested size and frame count.

Nothing is lost between the pipeline and the MP4: the pipeline returns its frames as a tensor on the device
(`output_type="pt"`), they are cropped and turned into uint8 there (a quarter of the float32 bytes to copy),
then copied to the host a chunk at a time while `VideoWriter`'s thread encodes the chunk before; the frames
never leave the worker process (no pickling between processes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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


CHUNK_FRAMES = 16  # frames per device -> host copy: small enough to overlap with encoding, big enough to batch


def device_uint8(frames: Any, plan: Plan) -> Any:
    """Pipeline frames as a tensor (F x C x H x W floats in 0..1, on the device) -> the requested crop as
    F x H x W x 3 uint8, still on the device."""
    top = (frames.shape[2] - plan.out_height) // 2
    left = (frames.shape[3] - plan.out_width) // 2
    cropped = frames[: plan.out_frames, :3, top : top + plan.out_height, left : left + plan.out_width]
    return cropped.permute(0, 2, 3, 1).clamp(0.0, 1.0).mul(255.0).add(0.5).to(dtype=_uint8())


def _uint8() -> Any:
    import torch

    return torch.uint8


def host_chunks(frames: Any, size: int = CHUNK_FRAMES) -> Iterator[np.ndarray]:
    """uint8 frames on the device, copied to the host `size` frames at a time (numpy arrays)."""
    for start in range(0, frames.shape[0], size):
        yield frames[start : start + size].contiguous().cpu().numpy()


def write_video_chunks(
    chunks: Iterator[np.ndarray],
    count: int,
    width: int,
    height: int,
    fps: float,
    workdir: Path,
    *,
    crf: int,
    preset: str,
    threads: int,
    on_frame: Callable[[int], None] | None = None,
) -> tuple[Path, Path]:
    """Encode `count` frames arriving in chunks to `video.mp4`, the first one to `thumbnail.jpg`."""
    video_path, thumbnail_path = workdir / "video.mp4", workdir / "thumbnail.jpg"
    first: np.ndarray | None = None
    done = 0
    with VideoWriter(video_path, width, height, fps, crf=crf, preset=preset, threads=threads) as writer:
        for chunk in chunks:
            if first is None:
                first = chunk[0].copy()
            for frame in chunk:
                writer.write(frame)
                if on_frame is not None:
                    on_frame(done)
                done += 1
    if first is None or done != count:
        raise RuntimeError(f"expected {count} frames from the pipeline, got {done}")
    write_thumbnail(first, thumbnail_path)
    return video_path, thumbnail_path


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

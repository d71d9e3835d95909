"""Probe a video file with PyAV: our `ffprobe`.

The ffmpeg binary shipped in the imageio-ffmpeg wheel comes without `ffprobe`, and PyAV reads the
same container fields through the same libraries, so tests and engines ask here what a file holds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction

import av


@dataclass(frozen=True)
class VideoInfo:
    """What a player would report about the first video stream of a file."""

    duration: float  # seconds
    width: int
    height: int
    fps: float
    codec: str  # e.g. "h264"
    pix_fmt: str | None  # e.g. "yuv420p"
    frame_count: int
    has_audio: bool


def probe(path: str | os.PathLike[str], *, count_frames: bool = False) -> VideoInfo:
    """Read the first video stream's properties.

    `frame_count` comes from the container index (`nb_frames`, exact for MP4) when present; otherwise,
    or with `count_frames=True`, the stream is decoded and its frames counted, which is slower but
    trusts nothing the muxer wrote.
    """
    with av.open(os.fspath(path)) as container:
        if not container.streams.video:
            raise ValueError(f"{os.fspath(path)} has no video stream")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0

        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = float(Fraction(container.duration, av.time_base))
        else:
            duration = 0.0

        frame_count = stream.frames
        if count_frames or frame_count <= 0:
            frame_count = sum(1 for _ in container.decode(stream))
        if duration <= 0 and fps > 0:
            duration = frame_count / fps

        return VideoInfo(
            duration=duration,
            width=ctx.width,
            height=ctx.height,
            fps=fps,
            codec=ctx.codec.name,
            pix_fmt=ctx.pix_fmt,
            frame_count=frame_count,
            has_audio=bool(container.streams.audio),
        )

"""Benchmark the draft engine: how much faster than realtime is a 720p preview?

    python bench/bench_draft.py [--repeat 3] [--seconds 5] [--width 1280 --height 720 --fps 24]

Renders a text-to-video and an image-to-video draft through `DraftEngine.run`, and, as a baseline
measured in the same run on the same host, encodes the same number of flat frames with the same
`VideoWriter` settings: the floor any engine built on it pays. Each figure is the best of `--repeat`
runs (the least disturbed by other processes); CPU seconds are printed too, since on a shared host
they move less than wall time.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from reelforge.domain.request import GenerationRequest, ImageInput, Kind
from reelforge.engines.base import TaskCancelled
from reelforge.engines.draft import DraftEngine
from reelforge.media.encode import VideoWriter
from reelforge.media.probe import probe


class _Context:
    """The smallest RunContext: inputs from a dict, progress ignored, never cancelled."""

    def __init__(self, workdir: Path, inputs: dict[str, bytes]) -> None:
        self.task_id = "bench"
        self.workdir = workdir
        self.inputs = inputs

    def progress(self, percent: float) -> None:
        pass

    def cancelled(self) -> bool:
        return False

    def raise_if_cancelled(self) -> None:
        if self.cancelled():
            raise TaskCancelled()

    def read_input(self, source: str) -> bytes:
        return self.inputs[source]


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _best_of(repeat: int, expected: tuple[int, int, int], job: Callable[[Path], Path]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, output bytes) of the fastest of `repeat` runs.

    Each output is probed: `expected` is (width, height, frames), so a fast wrong answer cannot win.
    """
    best: tuple[float, float, int] | None = None
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="bench-draft-") as tmp:
            wall0, cpu0 = time.perf_counter(), _cpu_seconds()
            output = job(Path(tmp))
            wall, cpu = time.perf_counter() - wall0, _cpu_seconds() - cpu0
            info = probe(output)
            assert (info.width, info.height, info.frame_count) == expected, info
            if best is None or wall < best[0]:
                best = (wall, cpu, output.stat().st_size)
    assert best is not None
    return best


def _photo(width: int, height: int) -> bytes:
    """A photo-like input: smooth gradients plus fine texture, which x264 cannot encode for free."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([xx / width * 200 + 30, yy / height * 180 + 40, (xx + yy) / (width + height) * 220], -1)
    noise = rng.normal(0, 12, (height, width, 3))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--fps", type=float, default=24.0)
    args = parser.parse_args()

    engine = DraftEngine({})
    size = {"width": args.width, "height": args.height, "fps": args.fps, "duration": args.seconds, "seed": 1}
    n_frames = round(args.seconds * args.fps)
    inputs = {"stored:photo.jpg": _photo(1920, 1280)}
    t2v = GenerationRequest(kind=Kind.TEXT_TO_VIDEO, prompt="a sunset over the ocean, gulls drifting", **size)
    i2v = GenerationRequest(
        kind=Kind.IMAGE_TO_VIDEO, prompt="the harbour at dawn", images=[ImageInput(source="stored:photo.jpg")], **size
    )

    def baseline(out_dir: Path) -> Path:
        flat = np.full((args.height, args.width, 3), 96, np.uint8)
        path = out_dir / "flat.mp4"
        with VideoWriter(
            path, args.width, args.height, args.fps, crf=engine.crf, preset=engine.preset, threads=engine.threads
        ) as writer:
            for _ in range(n_frames):
                writer.write(flat)
        return path

    def draft(request: GenerationRequest) -> Callable[[Path], Path]:
        return lambda out_dir: engine.run(request, _Context(out_dir, inputs)).video_path

    expected = (args.width, args.height, n_frames)
    rows = [
        ("encode flat frames (baseline)", _best_of(args.repeat, expected, baseline)),
        ("draft text_to_video", _best_of(args.repeat, expected, draft(t2v))),
        ("draft image_to_video", _best_of(args.repeat, expected, draft(i2v))),
    ]
    base_wall = rows[0][1][0]
    print(
        f"reelforge draft engine: {n_frames} frames, {args.width}x{args.height} @ {args.fps:g} fps "
        f"({args.seconds:g} s of video), best of {args.repeat}"
    )
    print(
        f"host: {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, preset {engine.preset}, crf {engine.crf}"
    )
    print()
    header = f"{'job':<30} {'wall s':>7} {'cpu s':>7} {'x realtime':>11} {'vs baseline':>12} {'MiB':>6}"
    print(header)
    print("-" * len(header))
    for name, (wall, cpu, size) in rows:
        print(
            f"{name:<30} {wall:>7.2f} {cpu:>7.2f} {args.seconds / wall:>10.1f}x "
            f"{wall / base_wall:>11.2f}x {size / 2**20:>6.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Frame-level H.264 encoding (PyAV + libx264) and JPEG thumbnails.

Engines that produce frames in numpy hand them to `VideoWriter` one at a time, so a two-minute video
never sits in memory. The output is what every browser and phone plays: H.264 High, yuv420p, BT.709
tagged, `moov` atom first (`+faststart`) so playback starts before the download ends.

Encoding is deterministic: the same frames give the same bytes. That is why the x264 thread count is
fixed rather than "auto" (x264's output depends on its thread count, so "auto" would make the bytes
depend on the host's core count), why no creation time is written, and why x264's AVX-512 code is
switched off on CPUs that have it (see `x264_asm_override`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import queue
import threading
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np
from av.video.reformatter import ColorPrimaries, ColorRange, Colorspace, ColorTrc
from PIL import Image

# NTSC-style rates a user writes as 23.976 / 29.97 / 59.94 mean n*1000/1001 exactly.
_NTSC_RATES = tuple(Fraction(n * 1000, 1001) for n in (24, 30, 48, 60, 120))


def fps_fraction(fps: float | Fraction) -> Fraction:
    """The exact frame rate for a float such as 24, 12.5 or 23.976 (-> 24000/1001).

    Containers store rates as rationals; passing a float straight through would turn 23.976 into a
    ratio with a huge denominator (or round it to 24), making durations drift.
    """
    if isinstance(fps, Fraction):
        return fps
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps!r}")
    for rate in _NTSC_RATES:
        if abs(float(rate) - fps) < 0.0015:
            return rate
    return Fraction(fps).limit_denominator(1001)


# x264 `asm` levels (each implies the ones below it) and the /proc/cpuinfo flags each needs.
_X264_LEVELS = (
    ("AVX2", {"avx2", "bmi2", "fma"}),
    ("AVX", {"avx"}),
    ("SSE4.2", {"sse4_2"}),
    ("SSE4.1", {"sse4_1"}),
    ("SSSE3", {"ssse3"}),
    ("SSE3", {"pni"}),
    ("SSE2", {"sse2"}),
)


@functools.cache
def x264_asm_override() -> str | None:
    """The x264 `asm` value to use instead of auto-detection, or None to keep auto-detection.

    With its AVX-512 routines, the x264 bundled in PyAV 18 made output that depended on leftover heap
    contents: in one process, the same frames encoded again after other numpy or encoding work often
    gave different bytes (up to one run in three), with one x264 thread or several; turning off
    mb-tree or B-frames hid it, at a large cost in size. Limiting x264 to AVX2 makes every run
    repeatable, at the same file size and speed (measured at 720p: 232 KiB, ~11 ms a frame either
    way). So on x86 CPUs with AVX-512 (read from /proc/cpuinfo; elsewhere nothing changes) the
    highest level below AVX-512 is named explicitly. x264 does not intersect the value with what the
    CPU has, hence the care to name only levels the CPU reports. Test:
    `test_same_frames_give_same_bytes_after_other_numpy_work`.
    """
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            line = next((ln for ln in cpuinfo if ln.startswith("flags")), "")
    except OSError:
        return None
    flags = set(line.partition(":")[2].split())
    if "avx512f" not in flags:
        return None
    for level, needs in _X264_LEVELS:
        if needs <= flags:
            return f"{level},Cache64"
    return None


class VideoWriter:
    """Encode RGB frames (H x W x 3 uint8 numpy arrays) to an H.264 MP4, as a context manager.

    ```
    with VideoWriter(path, 1280, 720, 24) as writer:
        for frame in frames:
            writer.write(frame)
    ```

    Colour conversion and x264 run on a background thread fed through a short queue, so an engine
    renders frame n+1 while frame n is being encoded (PyAV, Pillow and numpy release the GIL in their
    heavy work); on 2 cores that cut the draft engine's wall time by about a third. `write` copies the
    frame, so the caller may reuse its buffer. Engines that render in YUV call `write_i420` instead.

    The file is written under a temporary name next to `path` and moved into place only when the
    `with` block ends without an exception, so a failed or cancelled render never leaves a truncated
    MP4 that looks finished.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        width: int,
        height: int,
        fps: float | Fraction,
        *,
        crf: int = 23,
        preset: str = "veryfast",
        threads: int = 4,
        queue_size: int = 4,
    ) -> None:
        if width <= 0 or height <= 0:
            raise ValueError(f"width and height must be positive, got {width}x{height}")
        if width % 2 or height % 2:
            raise ValueError(
                f"width and height must be even for H.264 yuv420p (chroma is subsampled 2x2), "
                f"got {width}x{height}; use {width + width % 2}x{height + height % 2} instead"
            )
        self.path = Path(path)
        self.width = width
        self.height = height
        self.rate = fps_fraction(fps)
        self.crf = crf
        self.preset = preset
        self.threads = threads
        self.frames_written = 0
        self._partial = self.path.with_name(f".{self.path.name}.partial")
        self._container: av.container.OutputContainer | None = None
        self._stream: av.video.stream.VideoStream | None = None
        self._queue: queue.Queue[av.VideoFrame | None] = queue.Queue(maxsize=max(1, queue_size))
        self._worker: threading.Thread | None = None
        self._error: BaseException | None = None
        self._discard = False

    def __enter__(self) -> VideoWriter:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def open(self) -> None:
        """Create the container, the H.264 stream and the encoder thread (called by `__enter__`)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        container = av.open(str(self._partial), mode="w", format="mp4", container_options={"movflags": "+faststart"})
        try:
            options = {"crf": str(self.crf), "preset": self.preset}
            if (asm := x264_asm_override()) is not None:
                options["x264-params"] = f"asm={asm}"
            stream = container.add_stream("libx264", rate=self.rate, options=options)
            stream.width = self.width
            stream.height = self.height
            stream.pix_fmt = "yuv420p"
            ctx = stream.codec_context
            ctx.thread_count = self.threads
            ctx.time_base = 1 / self.rate
            ctx.colorspace = Colorspace.ITU709
            ctx.color_range = ColorRange.MPEG
            ctx.color_primaries = ColorPrimaries.BT709
            ctx.color_trc = ColorTrc.BT709
        except BaseException:
            container.close()
            self._partial.unlink(missing_ok=True)
            raise
        self._container = container
        self._stream = stream
        self._worker = threading.Thread(target=self._encode_loop, name="VideoWriter", daemon=True)
        self._worker.start()

    def write(self, frame: np.ndarray) -> None:
        """Queue one RGB frame for encoding; it must be exactly height x width x 3, dtype uint8."""
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise ValueError(f"expected a {self.height}x{self.width}x3 uint8 frame, got {frame.shape} {frame.dtype}")
        # Our own copy, wrapped without a second copy: the caller may reuse `frame` at once.
        self._put(av.VideoFrame.from_numpy_buffer(np.array(frame, order="C", copy=True), format="rgb24"))

    def write_i420(self, frame: np.ndarray) -> None:
        """Queue one frame already in I420 (BT.709 limited range; see `reelforge.media.yuv`).

        Engines that render in YUV use this to skip the RGB -> YUV conversion.
        """
        expected = (self.height * 3 // 2, self.width)
        if frame.shape != expected or frame.dtype != np.uint8:
            raise ValueError(
                f"expected a {expected[0]}x{expected[1]} uint8 I420 array for a "
                f"{self.width}x{self.height} frame, got {frame.shape} {frame.dtype}"
            )
        self._put(av.VideoFrame.from_ndarray(frame, format="yuv420p"))  # copies

    def _put(self, frame: av.VideoFrame) -> None:
        if self._worker is None:
            raise RuntimeError("VideoWriter is not open; use it as a context manager")
        self._raise_worker_error()
        frame.pts = self.frames_written
        self._queue.put(frame)
        self.frames_written += 1

    def close(self) -> None:
        """Encode what is queued, flush the encoder, finish the file and move it to `path`."""
        if self._worker is None:
            return
        if self.frames_written == 0:
            self.abort()
            raise ValueError(f"no frames were written to {self.path.name}; a video needs at least one")
        self._stop_worker()
        try:
            self._raise_worker_error()
            assert self._container is not None and self._stream is not None
            self._container.mux(self._stream.encode(None))
            self._container.close()
        except BaseException:
            self.abort()
            raise
        self._container = None
        self._stream = None
        os.replace(self._partial, self.path)

    def abort(self) -> None:
        """Stop encoding and drop the partial file; nothing is left at `path`."""
        self._discard = True
        self._stop_worker()
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.close()
        self._container = None
        self._stream = None
        self._partial.unlink(missing_ok=True)

    def _stop_worker(self) -> None:
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join()
            self._worker = None

    def _raise_worker_error(self) -> None:
        if self._error is not None:
            raise RuntimeError(f"encoding {self.path.name} failed: {self._error}") from self._error

    def _encode_loop(self) -> None:
        """Runs on the encoder thread: convert, encode, mux; after an error, drain until the sentinel."""
        assert self._container is not None and self._stream is not None
        container, stream = self._container, self._stream
        time_base = stream.codec_context.time_base
        while (frame := self._queue.get()) is not None:
            if self._error is not None or self._discard:
                continue
            try:
                if frame.format.name != "yuv420p":
                    # Convert here (not in the encoder) so the matrix matches the stream's BT.709 tag.
                    pts = frame.pts
                    frame = frame.reformat(
                        format="yuv420p",
                        src_colorspace=Colorspace.ITU709,
                        dst_colorspace=Colorspace.ITU709,
                        src_color_range=ColorRange.JPEG,
                        dst_color_range=ColorRange.MPEG,
                    )
                    frame.pts = pts
                frame.time_base = time_base
                container.mux(stream.encode(frame))
            except BaseException as exc:  # re-raised on the caller's thread by write() or close()
                self._error = exc


def write_thumbnail(frame: np.ndarray, path: str | os.PathLike[str], max_side: int = 640) -> Path:
    """Save an RGB frame as a JPEG whose longer side is at most `max_side` (aspect kept).

    Thumbnails are for listings and previews, so a small JPEG beats a full-size PNG.
    """
    image = Image.fromarray(np.ascontiguousarray(frame[..., :3]))
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out, format="JPEG", quality=85, optimize=True)
    return out

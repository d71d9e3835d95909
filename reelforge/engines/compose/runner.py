"""Run the ffmpeg binary from imageio-ffmpeg: progress, cancellation, a timeout and a readable error.

ffmpeg writes `-progress` key=value blocks to stdout (a reader thread keeps the latest `out_time`);
the calling thread polls `ctx.cancelled()` every `POLL_SECONDS`, kills ffmpeg (its own process, by
pid) on cancel or timeout, and reports progress as out_time / duration, never backwards. stderr goes
to a file (a pipe nobody reads could fill and stall ffmpeg); on failure its last lines become the
error message, with file paths cut to their base names so no directory of this host or of another
task leaks into a message a user reads.
"""

from __future__ import annotations

import contextlib
import functools
import re
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.engines.base import RunContext, TaskCancelled

POLL_SECONDS = 0.1
TAIL_LINES = 12
TAIL_CHARS = 1500
_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[/\\][^\s/\\'\":,;\[\]]+)+[/\\]([^\s/\\'\":,;\[\]]+)")


@functools.cache
def ffmpeg_exe() -> str:
    """The ffmpeg shipped in the imageio-ffmpeg wheel: libx264, aac, drawtext, xfade, zoompan on every host."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


class _ProgressReader(threading.Thread):
    """Reads `-progress pipe:1` and keeps the furthest `out_time` seen, in seconds."""

    def __init__(self, stream: object) -> None:
        super().__init__(name="ffmpeg-progress", daemon=True)
        self.stream = stream
        self.seconds = 0.0

    def run(self) -> None:
        for raw in self.stream:  # type: ignore[attr-defined]
            key, _, value = raw.decode("ascii", "replace").strip().partition("=")
            if key in ("out_time_us", "out_time_ms") and value.lstrip("-").isdigit():  # both are microseconds
                self.seconds = max(self.seconds, int(value) / 1e6)


def run_ffmpeg(
    args: Sequence[str],
    *,
    cwd: Path,
    duration: float,
    ctx: RunContext,
    progress: tuple[float, float] = (0.0, 100.0),
    timeout: float = 3600.0,
    env: Mapping[str, str] | None = None,
) -> None:
    """Run `ffmpeg args...` in `cwd` (with `env`, e.g. the font stack's fonts.conf); raise TaskCancelled on
    cancel, ReelforgeError(ENGINE_ERROR) on failure."""
    log_path = cwd / "ffmpeg.log"
    command = [
        ffmpeg_exe(),
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-nostats",
        "-progress",
        "pipe:1",
        "-stats_period",
        "0.25",
        *args,
    ]
    low, high = progress
    reported = low
    started = time.monotonic()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, env=env
        )
    reader = _ProgressReader(process.stdout)
    reader.start()
    try:
        while process.poll() is None:
            if ctx.cancelled():
                _stop(process)
                raise TaskCancelled(ctx.task_id)
            if time.monotonic() - started > timeout:
                _stop(process)
                raise ReelforgeError(
                    ErrorCode.ENGINE_ERROR,
                    f"rendering took longer than {timeout:g} s and was "
                    f"stopped; shorten the template or raise the limit",
                )
            done = min(1.0, reader.seconds / duration) if duration > 0 else 0.0
            percent = low + (high - low) * done
            if percent > reported:
                reported = percent
                ctx.progress(percent)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(POLL_SECONDS)
    finally:
        if process.poll() is None:  # an exception from ctx: never leave ffmpeg running
            _stop(process)
        reader.join(timeout=5)
        if process.stdout is not None:
            process.stdout.close()
    if process.returncode != 0:
        raise ReelforgeError(
            ErrorCode.ENGINE_ERROR, f"ffmpeg failed (exit {process.returncode}): {error_tail(log_path) or 'no message'}"
        )
    if high > reported:
        ctx.progress(high)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.kill()
    process.wait()


def error_tail(log_path: Path) -> str:
    """The last lines of ffmpeg's stderr, paths reduced to base names, short enough for a message."""
    try:
        text = log_path.read_text("utf-8", "replace")
    except OSError:
        return ""
    lines = [line.strip() for line in text.splitlines() if line.strip()][-TAIL_LINES:]
    tail = " | ".join(_PATH.sub(r"\1", line) for line in lines)
    return tail if len(tail) <= TAIL_CHARS else "..." + tail[-TAIL_CHARS:]

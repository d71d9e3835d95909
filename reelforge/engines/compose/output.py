"""What the compositor writes: the container and codecs, a time range, and the poster and thumbnail times.

Read from `request.extra` (the API puts the caller's `output` options there):

- `format`: `mp4` (H.264 + AAC, the default and all the AVS contract knows), `webm` (VP9 + Opus, realtime
  deadline so it encodes about as fast as x264 `veryfast`) or `gif` (a palette made from the whole clip,
  `palettegen` + `paletteuse`, no sound; at most `MAX_GIF_SECONDS`, since palettegen holds every frame);
- `range` `{start, length}`: only that part of the template is delivered. The graph still runs from 0 (so
  a transition, Ken Burns move or fade cut by the range looks exactly as in the full render) and trims the
  composited frames and samples at the end;
- `thumbnail` and `poster`: seconds into the delivered video where the thumbnail (small JPEG, 1 s or the
  middle by default) and the poster (a full-size JPEG, only when asked) are captured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reelforge.domain.errors import invalid
from reelforge.domain.formats import FILE_SUFFIX, MAX_GIF_SECONDS, OUTPUT_FORMATS, QualityPreset

THUMBNAIL_AT = 1.0  # seconds, or the middle of a shorter video
_EPSILON = 1e-6


@dataclass(frozen=True)
class OutputOptions:
    format: str = "mp4"
    start: float = 0.0
    length: float | None = None  # None: to the end of the template
    thumbnail: float | None = None
    poster: float | None = None

    @property
    def suffix(self) -> str:
        return FILE_SUFFIX[self.format]

    def thumbnail_at(self, duration: float) -> float:
        return self.thumbnail if self.thumbnail is not None else min(THUMBNAIL_AT, duration / 2)


def _seconds(value: Any, pointer: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or (positive and value <= 0):
        raise invalid("must be a number of seconds" + (" above 0" if positive else ", 0 or more"), pointer)
    return float(value)


def output_options(extra: dict[str, Any], template_seconds: float) -> OutputOptions:
    """The output options of a request, each problem INVALID_PAYLOAD naming its `/output/...` field."""
    fmt = extra.get("format", "mp4")
    if fmt not in OUTPUT_FORMATS:
        raise invalid(f"format must be one of {', '.join(OUTPUT_FORMATS)}, got {fmt!r}", "/output/format")
    start, length = 0.0, None
    window = extra.get("range")
    if window is not None:
        if not isinstance(window, dict) or set(window) - {"start", "length"}:
            raise invalid("range must be an object with start and length (seconds)", "/output/range")
        start = _seconds(window.get("start", 0), "/output/range/start")
        length = _seconds(window.get("length", template_seconds - start), "/output/range/length", positive=True)
        if start + length > template_seconds + _EPSILON:
            raise invalid(
                f"the range {start:g}-{start + length:g} s runs past the template's end ({template_seconds:g} s)",
                "/output/range/length" if "length" in window else "/output/range/start",
            )
    delivered = length if length is not None else template_seconds - start
    if fmt == "gif" and delivered > MAX_GIF_SECONDS + _EPSILON:
        raise invalid(
            f"a GIF is at most {MAX_GIF_SECONDS:g} s; this one would run {delivered:g} s (set output.range)",
            "/output/format",
        )
    times: dict[str, float | None] = {}
    for name in ("thumbnail", "poster"):
        value = extra.get(name)
        times[name] = None if value is None else _seconds(value, f"/output/{name}")
        if times[name] is not None and times[name] > delivered + _EPSILON:  # type: ignore[operator]
            raise invalid(f"{name} is at {value:g} s, past the video's end ({delivered:g} s)", f"/output/{name}")
    return OutputOptions(fmt, start, length, times["thumbnail"], times["poster"])


def delivered_seconds(extra: dict[str, Any], template_seconds: float) -> float:
    """How long the delivered video is: the range's length, else the template's."""
    options = output_options(extra, template_seconds)
    return options.length if options.length is not None else template_seconds - options.start


def encoder_args(options: OutputOptions, quality: QualityPreset, colour: str) -> list[str]:
    """The codec options for the container (after the `-map`s)."""
    if options.format == "gif":
        return ["-f", "gif", "-loop", "0"]
    tags = ["-colorspace", colour, "-color_primaries", colour, "-color_trc", colour, "-color_range", "tv"]
    audio = ["-b:a", quality.audio_bitrate, "-ar", "48000", "-ac", "2"]
    if options.format == "webm":
        # VP9's CRF scale runs higher than x264's for the same look; realtime + cpu-used 8 keeps it fast
        video = ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-row-mt", "1"]
        video += ["-crf", str(min(63, quality.crf + 8)), "-b:v", "0", "-pix_fmt", "yuv420p", *tags]
        return [*video, "-c:a", "libopus", *audio, "-f", "webm"]
    video = ["-c:v", "libx264", "-preset", quality.preset, "-crf", str(quality.crf), "-profile:v", "high"]
    video += ["-pix_fmt", "yuv420p", *tags]
    return [*video, "-c:a", "aac", *audio, "-movflags", "+faststart", "-f", "mp4"]

"""Test media made in code: solid and split-colour clips (with or without a tone), a rotated clip, a
variable-frame-rate clip, odd-sized PNGs and sine WAVs -- plus helpers to read a render back.

Clips are made with the same ffmpeg binary the engine uses (lavfi sources, ultrafast x264), small and
short, so a test spends its time on the code under test. Colours are saturated and distinct so that a
decoded frame says unambiguously which block shows at a point.
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import av
import numpy as np
from PIL import Image

from reelforge.engines.compose.runner import ffmpeg_exe

RGB = {
    "red": (230, 20, 20),
    "green": (20, 200, 40),
    "blue": (20, 40, 230),
    "yellow": (240, 220, 20),
    "magenta": (220, 20, 220),
    "cyan": (20, 220, 220),
    "white": (250, 250, 250),
    "black": (0, 0, 0),
}


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *args], check=True, timeout=120)


def _hex(color: str) -> str:
    r, g, b = RGB[color]
    return f"0x{r:02X}{g:02X}{b:02X}"


def solid_video(
    path: Path,
    color: str = "red",
    *,
    size: tuple[int, int] = (160, 96),
    fps: int = 25,
    seconds: float = 2.0,
    tone: float | None = None,
) -> Path:
    """A solid-colour H.264 MP4; with `tone` (Hz), an AAC sine track of the same length."""
    args = ["-f", "lavfi", "-i", f"color=c={_hex(color)}:s={size[0]}x{size[1]}:r={fps}:d={seconds}"]
    if tone:
        args += ["-f", "lavfi", "-i", f"sine=frequency={tone}:sample_rate=48000:duration={seconds}"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    args += ["-c:a", "aac", "-shortest"] if tone else []
    ffmpeg(*args, str(path))
    return path


def split_video(
    path: Path,
    left: str = "red",
    right: str = "blue",
    *,
    size: tuple[int, int] = (160, 96),
    fps: int = 25,
    seconds: float = 1.0,
) -> Path:
    """Left half one colour, right half another: shows whether a frame was turned or flipped."""
    w, h = size
    source = (
        f"color=c={_hex(left)}:s={w}x{h}:r={fps}:d={seconds},"
        f"drawbox=x={w // 2}:y=0:w={w - w // 2}:h={h}:color={_hex(right)}:t=fill"
    )
    ffmpeg("-f", "lavfi", "-i", source, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path))
    return path


def rotated_video(path: Path, rotation: int = 90, **split: object) -> Path:
    """A split clip stored landscape with a display matrix saying "turn me `rotation` degrees"."""
    plain = path.with_name(path.stem + "-plain.mp4")
    split_video(plain, **split)  # type: ignore[arg-type]
    ffmpeg("-display_rotation:v:0", str(rotation), "-i", str(plain), "-c", "copy", str(path))
    return path


def vfr_video(
    path: Path,
    first: str = "red",
    second: str = "green",
    *,
    size: tuple[int, int] = (160, 96),
    seconds_each: float = 1.0,
) -> Path:
    """`first` then `second` colour, frames at irregular times (a phone-style variable frame rate)."""
    w, h = size
    graph = (
        f"color=c={_hex(first)}:s={w}x{h}:r=30:d={seconds_each}[a];"
        f"color=c={_hex(second)}:s={w}x{h}:r=30:d={seconds_each}[b];"
        "[a][b]concat=n=2:v=1:a=0,select='not(eq(mod(n\\,7)\\,3))*not(eq(mod(n\\,5)\\,1))'[v]"
    )
    ffmpeg(
        "-filter_complex",
        graph,
        "-map",
        "[v]",
        "-fps_mode",
        "vfr",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        str(path),
    )
    return path


def sine_wav(path: Path, seconds: float = 2.0, frequency: float = 440.0) -> Path:
    ffmpeg("-f", "lavfi", "-i", f"sine=frequency={frequency}:sample_rate=44100:duration={seconds}", str(path))
    return path


def png(width: int, height: int, color: str | tuple[int, ...] = "green", alpha: int | None = None) -> bytes:
    """A solid PNG of any size (odd sizes included); with `alpha`, RGBA at that opacity."""
    rgb = RGB[color] if isinstance(color, str) else color
    mode, fill = ("RGBA", (*rgb, alpha)) if alpha is not None else ("RGB", rgb)
    buffer = io.BytesIO()
    Image.new(mode, (width, height), fill).save(buffer, format="PNG")
    return buffer.getvalue()


def quadrant_png(
    width: int,
    height: int,
    colors: tuple[str, str, str, str] = ("red", "green", "blue", "yellow"),
    *,
    exif_orientation: int | None = None,
    format: str = "PNG",
) -> bytes:
    """Top-left, top-right, bottom-left, bottom-right quadrants in four colours."""
    array = np.zeros((height, width, 3), np.uint8)
    h2, w2 = height // 2, width // 2
    array[:h2, :w2], array[:h2, w2:], array[h2:, :w2], array[h2:, w2:] = (RGB[c] for c in colors)
    image = Image.fromarray(array)
    buffer = io.BytesIO()
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        image.save(buffer, format=format, exif=exif)
    else:
        image.save(buffer, format=format)
    return buffer.getvalue()


# ------------------------------------------------------------------ reading a render back


def frames(path: Path) -> list[np.ndarray]:
    """Every decoded frame as RGB."""
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def frame_at(path: Path, seconds: float, fps: float) -> np.ndarray:
    """The frame shown at `seconds` (by index: round(seconds x fps))."""
    return frames(path)[round(seconds * fps)]


def mean_color(frame: np.ndarray, box: tuple[float, float, float, float] = (0.25, 0.25, 0.75, 0.75)) -> np.ndarray:
    """Mean RGB in a box given as fractions (left, top, right, bottom) of the frame."""
    h, w = frame.shape[:2]
    left, top, right, bottom = box
    region = frame[
        int(top * h) : max(int(top * h) + 1, int(bottom * h)), int(left * w) : max(int(left * w) + 1, int(right * w))
    ]
    return region.reshape(-1, 3).mean(axis=0)


def is_color(rgb: np.ndarray, color: str, tolerance: float = 45.0) -> bool:
    return bool(np.abs(rgb - np.array(RGB[color], float)).max() <= tolerance)


def audio_levels(path: Path, window: float = 0.1) -> list[float]:
    """RMS of the first audio stream in consecutive windows of `window` seconds."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        chunks = [frame.to_ndarray().astype(np.float64) for frame in container.decode(stream)]
    samples = np.concatenate([c.mean(axis=0) if c.ndim == 2 else c for c in chunks]) if chunks else np.zeros(0)
    size = max(1, int(window * rate))
    return [float(np.sqrt(np.mean(samples[i : i + size] ** 2))) for i in range(0, len(samples) - size + 1, size)]

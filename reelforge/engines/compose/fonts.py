"""Fonts for text blocks: DejaVu, as shipped inside matplotlib's wheel, never a system font.

Why DejaVu from matplotlib: it is on PyPI (so every install gets the same glyphs, and a render on a
laptop matches one on a server), it covers Latin, Greek, Cyrillic, Armenian, Georgian, Hebrew and
Arabic in one file per style, and ffmpeg's drawtext (built with HarfBuzz and FriBiDi) shapes Arabic
and right-to-left text with it. matplotlib is located without being imported (importing it costs
~0.2 s and a config directory). CJK needs another font: an operator can point a family at another
file with the engine setting `fonts` (e.g. `sans` -> a Noto Sans CJK file), which overrides the table below.

`wrap_text` breaks a line that would run wider than the frame: drawtext draws one line per `\\n` and
never wraps, so long captions would be cut off at the frame's edge.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable, Mapping
from pathlib import Path

from PIL import ImageFont

from reelforge.domain.errors import ErrorCode, ReelforgeError

# (family, bold, italic) -> file name in matplotlib's mpl-data/fonts/ttf
_DEJAVU = {
    ("sans", False, False): "DejaVuSans.ttf",
    ("sans", True, False): "DejaVuSans-Bold.ttf",
    ("sans", False, True): "DejaVuSans-Oblique.ttf",
    ("sans", True, True): "DejaVuSans-BoldOblique.ttf",
    ("serif", False, False): "DejaVuSerif.ttf",
    ("serif", True, False): "DejaVuSerif-Bold.ttf",
    ("serif", False, True): "DejaVuSerif-Italic.ttf",
    ("serif", True, True): "DejaVuSerif-BoldItalic.ttf",
    ("mono", False, False): "DejaVuSansMono.ttf",
    ("mono", True, False): "DejaVuSansMono-Bold.ttf",
    ("mono", False, True): "DejaVuSansMono-Oblique.ttf",
    ("mono", True, True): "DejaVuSansMono-BoldOblique.ttf",
}


@functools.cache
def _dejavu_dir() -> Path:
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise ReelforgeError(
            ErrorCode.ENGINE_ERROR, "text blocks need the DejaVu fonts shipped with matplotlib; pip install matplotlib"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "mpl-data" / "fonts" / "ttf"


def font_path(family: str, bold: bool = False, italic: bool = False, extra: Mapping[str, str] | None = None) -> Path:
    """The font file for a text block's style; `extra` (the engine's `fonts` setting) is consulted first.

    An `extra` key is a family name, optionally with `-bold`, `-italic` or `-bold-italic`."""
    if extra:
        suffix = "-bold" * bold + "-italic" * italic
        for key in (family + suffix, family):
            if key in extra:
                return _existing(Path(extra[key]))
    name = _DEJAVU.get((family, bold, italic))
    if name is None:
        raise ReelforgeError(ErrorCode.ENGINE_ERROR, f"no font for family {family!r}")
    return _existing(_dejavu_dir() / name)


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise ReelforgeError(ErrorCode.ENGINE_ERROR, f"font file {path.name} is missing from this installation")
    return path


@functools.lru_cache(maxsize=32)
def _pil_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def wrap_text(text: str, font: Path, size_px: int, max_width_px: float) -> str:
    """`text` with line breaks added so no line is wider than `max_width_px` at `size_px`.

    Breaks at spaces; a word wider than the line on its own (or text without spaces, as in Chinese) is
    broken between characters. The user's own line breaks are kept. Widths are measured with Pillow's
    basic layout, close enough to drawtext's shaped width to choose break points."""
    measure = _pil_font(str(font), max(1, size_px)).getlength
    lines: list[str] = []
    for paragraph in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        current = ""
        for word in paragraph.split(" "):
            candidate = f"{current} {word}" if current else word
            if measure(candidate) <= max_width_px or not candidate.strip():
                current = candidate
                continue
            if current:
                lines.append(current)
            current = word
            while measure(current) > max_width_px and len(current) > 1:
                cut = _fitting_prefix(current, measure, max_width_px)
                lines.append(current[:cut])
                current = current[cut:]
        lines.append(current)
    return "\n".join(lines)


def _fitting_prefix(word: str, measure: Callable[[str], float], max_width_px: float) -> int:
    """How many leading characters of `word` fit in `max_width_px` (at least one)."""
    low, high = 1, len(word)
    while low < high:
        middle = (low + high + 1) // 2
        if measure(word[:middle]) <= max_width_px:
            low = middle
        else:
            high = middle - 1
    return low

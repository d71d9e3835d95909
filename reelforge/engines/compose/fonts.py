"""Fonts for text blocks: the project's font stack (`reelforge.media.fonts`), drawn by libass.

A text block's family (`sans`, `serif`, `mono`) names the face tried first: Noto Sans, DejaVu Serif,
DejaVu Sans Mono (all from PyPI wheels, so a render on a laptop matches one on a server); every glyph
that face lacks comes from the Noto face for its script (CJK, Arabic, Hebrew, Devanagari, Thai, ...),
which libass finds through the `fonts.conf` the engine hands ffmpeg. An operator can put another font
first for a family with the engine setting `fonts` (e.g. `serif` -> a file of their own); the stack
still falls back after it.

`wrap_text` breaks a line that would run wider than the frame: the engine breaks lines itself (libass
runs with WrapStyle 2) so that a long word or a run of CJK is broken where it fits, measured with the
same faces.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.media.fonts import LATIN_FAMILY, FontFace, load_face, package_dir, stack

# (family, bold, italic) -> DejaVu file in matplotlib's mpl-data/fonts/ttf (font_path: for callers that
# need one file, such as bench/compose.py's hand-written drawtext command)
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


class TextFont:
    """What a text block is set in: the family libass asks for first, and the stack to measure with."""

    def __init__(self, family: str, faces: list[FontFace], extra_dir: Path | None = None) -> None:
        self.family = family
        self.faces = faces
        self.extra_dir = extra_dir

    @property
    def head(self) -> FontFace:
        return self.faces[0]


def text_font(
    family: str, bold: bool = False, italic: bool = False, extra: Mapping[str, str] | None = None
) -> TextFont:
    """The font of a text block's style; `extra` (the engine's `fonts` setting) is consulted first.

    An `extra` key is a family name, optionally with `-bold`, `-italic` or `-bold-italic`."""
    if extra:
        suffix = "-bold" * bold + "-italic" * italic
        for key in (family + suffix, family):
            if key in extra:
                path = Path(extra[key])
                face = load_face(path)
                return TextFont(
                    face.family, stack(family if family in LATIN_FAMILY else "sans", first=path), path.parent
                )
    if family not in LATIN_FAMILY:
        raise ReelforgeError(ErrorCode.ENGINE_ERROR, f"no font for family {family!r}")
    return TextFont(LATIN_FAMILY[family], stack(family, italic))


def font_path(family: str, bold: bool = False, italic: bool = False) -> Path:
    """One DejaVu file for a style (no fallback): for a caller that needs a single font file."""
    name = _DEJAVU.get((family, bold, italic))
    if name is None:
        raise ReelforgeError(ErrorCode.ENGINE_ERROR, f"no font for family {family!r}")
    return package_dir("matplotlib") / "mpl-data" / "fonts" / "ttf" / name


def wrap_text(text: str, measure: Callable[[str], float], max_width_px: float) -> str:
    """`text` with line breaks added so no line is wider than `max_width_px` by `measure`.

    Breaks at spaces; a word wider than the line on its own (or text without spaces, as in Chinese) is
    broken between characters. The user's own line breaks are kept. Widths are measured with Pillow over
    the same font stack (`reelforge.media.text.measurer`), close enough to libass's to choose breaks."""
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

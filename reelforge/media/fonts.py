"""The font stack: Noto for every script, from PyPI wheels, with fallback for both text renderers.

Why these fonts: `manimgx-fonts` (Noto Sans and Noto Sans for Arabic, Hebrew, Devanagari, Thai and
the other scripts Latin faces lack) and `manimgx-fonts-cjk` (Noto Sans CJK) are plain PyPI wheels, so
`pip install -e .` gives every host the same glyphs with no system font and no apt step; DejaVu (in
matplotlib's wheel) stays for the serif and mono families. One font file never covers every script, so
text is set with a *stack*: the family's own font first, then one font per script.

Two renderers use the stack:

- libass (the compositor's text and captions, through ffmpeg's `ass` filter): ffmpeg is built with
  fontconfig, and libass asks fontconfig for another font whenever a glyph is missing. `fontconfig_file()`
  writes a `fonts.conf` that lists only the bundled font directories and, per family, the fallback
  order (CJK as Simplified Chinese first, then Arabic, Hebrew, ...); ffmpeg is run with
  `FONTCONFIG_FILE` pointing at it (`font_env()`). libass shapes with HarfBuzz and orders right-to-left
  runs with FriBiDi.
- Pillow (the draft engine's prompt caption, and text measurement for line wrapping): `runs()` splits a
  string into runs that one font of the stack covers (coverage read from each font's cmap), and
  `reelforge.media.text` lays each run out with Pillow's raqm layout (HarfBuzz + FriBiDi).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

import platformdirs
from fontTools.ttLib import TTCollection, TTFont

from reelforge.domain.errors import ErrorCode, ReelforgeError

FAMILIES = ("sans", "serif", "mono")
LATIN_FAMILY = {"sans": "Noto Sans", "serif": "DejaVu Serif", "mono": "DejaVu Sans Mono"}
"""Our family name -> the fontconfig family libass asks for first."""

CJK_FAMILY = "Noto Sans CJK SC"
FALLBACK_FAMILIES = (
    "Noto Sans",
    CJK_FAMILY,
    "Noto Sans Arabic",
    "Noto Sans Hebrew",
    "Noto Sans Devanagari",
    "Noto Sans Thai",
    "Noto Sans Bengali",
    "Noto Sans Tamil",
    "Noto Sans Telugu",
    "Noto Sans Gujarati",
    "Noto Sans Gurmukhi",
    "Noto Sans Kannada",
    "Noto Sans Malayalam",
    "Noto Sans Oriya",
    "Noto Sans Sinhala",
    "Noto Sans Khmer",
    "Noto Sans Lao",
    "Noto Sans Myanmar",
    "Noto Sans Armenian",
    "Noto Sans Georgian",
    "Noto Sans Ethiopic",
    "Noto Sans Symbols",
    "DejaVu Sans",
    "Noto Emoji",
)
"""The order fontconfig (and `runs`) tries for a glyph the family's own font lacks."""

# Files of the Pillow stack, in fallback order: (package, file name, face index in a collection).
_NOTO = "manimgx_fonts"
_CJK = "manimgx_fonts_cjk"
_MPL = "matplotlib"
_CJK_FILE = "NotoSansCJK-VF.otf.ttc"
_CJK_SC_INDEX = 2  # JP, KR, SC, TC, HK in the collection
_SCRIPT_FILES = [
    (_CJK, _CJK_FILE, _CJK_SC_INDEX),
    *(
        (_NOTO, f"NotoSans{script}[wght].ttf", 0)
        for script in [
            *["Arabic", "Hebrew", "Devanagari", "Thai", "Bengali", "Tamil", "Telugu", "Gujarati", "Gurmukhi"],
            *["Kannada", "Malayalam", "Oriya", "Sinhala", "Khmer", "Lao", "Myanmar", "Armenian", "Georgian"],
            *["Ethiopic", "Symbols"],
        ]
    ),
    (_MPL, "mpl-data/fonts/ttf/DejaVuSans.ttf", 0),
    (_NOTO, "NotoEmoji[wght].ttf", 0),
]
_FIRST = {
    ("sans", False): (_NOTO, "NotoSans[wght].ttf", 0),
    ("sans", True): (_NOTO, "NotoSans-Italic[wght].ttf", 0),
    ("serif", False): (_MPL, "mpl-data/fonts/ttf/DejaVuSerif.ttf", 0),
    ("serif", True): (_MPL, "mpl-data/fonts/ttf/DejaVuSerif-Italic.ttf", 0),
    ("mono", False): (_MPL, "mpl-data/fonts/ttf/DejaVuSansMono.ttf", 0),
    ("mono", True): (_MPL, "mpl-data/fonts/ttf/DejaVuSansMono-Oblique.ttf", 0),
}


class FontFace:
    """One face of the stack: a file (and face index in a collection); its family name, coverage and
    weight axis are read on first use (the CJK collection takes ~0.3 s), so Latin-only text never pays
    for the fonts it does not need."""

    def __init__(self, path: Path, index: int = 0) -> None:
        self.path, self.index = path, index

    def __repr__(self) -> str:
        return f"FontFace({self.path.name!r}, {self.index})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FontFace) and (self.path, self.index) == (other.path, other.index)

    def __hash__(self) -> int:
        return hash((self.path, self.index))

    def covers(self, char: str) -> bool:
        return ord(char) in self._info[1]

    @property
    def family(self) -> str:
        return self._info[0]

    @property
    def weight_axis(self) -> tuple[float, float] | None:
        """(min, max) of the face's `wght` axis when it is a variable font; None for a static one."""
        return self._info[2]

    @functools.cached_property
    def _info(self) -> tuple[str, frozenset[int], tuple[float, float] | None]:
        try:
            font = _open(self.path, self.index)
            family = str(font["name"].getBestFamilyName() or self.path.stem)
            cmap = frozenset(font.getBestCmap() or {})
            axis = None
            if "fvar" in font:
                for item in font["fvar"].axes:
                    if item.axisTag == "wght":
                        axis = (float(item.minValue), float(item.maxValue))
        except Exception as exc:  # fontTools raises many types for a file that is not a font
            raise ReelforgeError(
                ErrorCode.ENGINE_ERROR, f"font file {self.path.name} cannot be read ({type(exc).__name__})"
            ) from None
        return family, cmap, axis


@functools.cache
def package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        wheel = {_NOTO: "manimgx-fonts", _CJK: "manimgx-fonts-cjk", _MPL: "matplotlib"}[package]
        raise ReelforgeError(
            ErrorCode.ENGINE_ERROR, f"text needs the fonts of the {wheel} package; pip install {wheel}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def font_dirs() -> list[Path]:
    """The directories fontconfig may read: the bundled fonts and nothing of the host."""
    return [package_dir(_NOTO), package_dir(_CJK), package_dir(_MPL) / "mpl-data" / "fonts" / "ttf"]


def _open(path: Path, index: int) -> TTFont:
    if path.suffix.lower() in (".ttc", ".otc"):
        return TTCollection(str(path), lazy=True).fonts[index]
    return TTFont(str(path), lazy=True, fontNumber=index)


@functools.cache
def load_face(path: Path, index: int = 0) -> FontFace:
    """The face of `path` (one object per file and index, so its coverage is read once per process)."""
    if not path.is_file():
        raise ReelforgeError(ErrorCode.ENGINE_ERROR, f"font file {path.name} is missing from this installation")
    return FontFace(path, index)


def _face(spec: tuple[str, str, int]) -> FontFace:
    package, name, index = spec
    return load_face(package_dir(package) / name, index)


def stack(family: str = "sans", italic: bool = False, first: Path | None = None) -> list[FontFace]:
    """The faces tried in order for text of `family`: `first` (an operator's font) or the family's own
    face, then one face per script."""
    if family not in FAMILIES:
        raise ReelforgeError(ErrorCode.ENGINE_ERROR, f"no font for family {family!r}")
    head = load_face(first) if first is not None else _face(_FIRST[(family, italic)])
    noto = _face(_FIRST[("sans", False)])
    faces = [head] if head == noto else [head, noto]
    faces += [_face(spec) for spec in _SCRIPT_FILES]
    return faces


def runs(text: str, faces: Sequence[FontFace]) -> list[tuple[str, FontFace]]:
    """`text` split into runs each drawn with one face: the first face in `faces` that has the glyph.

    Combining marks and joiners stay with the run before them, so a cluster is never split between
    fonts (Devanagari vowel signs, Arabic harakat, Thai tone marks) and shaping sees whole words.
    Digits and punctuation stay in the run they follow when its face has them (an Arabic phrase with a
    number is one right-to-left run). Spaces join the runs on both sides when those share a face and are
    a run of their own otherwise, so a right-to-left run never carries the space that separates it
    from the next run to its wrong side."""
    result: list[tuple[str, FontFace]] = []
    for char in text:
        current = result[-1] if result else None
        if current is not None and _is_mark(char):
            result[-1] = (current[0] + char, current[1])
            continue
        if char.isspace():
            if current is not None and current[0].isspace():
                result[-1] = (current[0] + char, current[1])
            else:
                result.append((char, current[1] if current is not None else faces[0]))
            continue
        # the run this character may join: the last one, across a run of spaces between them
        spaces = current[0] if current is not None and current[0].isspace() else ""
        previous = result[-2] if spaces and len(result) > 1 else (None if spaces else current)
        face = next((f for f in faces if f.covers(char)), faces[0])
        letter = unicodedata.category(char).startswith("L")
        if previous is not None and (previous[1] == face or (not letter and previous[1].covers(char))):
            if spaces:
                result.pop()
            result[-1] = (previous[0] + spaces + char, previous[1])
        else:
            result.append((char, face))
    return result


def _is_mark(char: str) -> bool:
    """Characters that belong to the cluster before them: combining marks, joiners, variation selectors."""
    code = ord(char)
    return (
        unicodedata.category(char) in ("Mn", "Mc", "Me") or code in (0x200C, 0x200D, 0x2060) or 0xFE00 <= code <= 0xFE0F
    )


# ---------------------------------------------------------------- fontconfig for libass


def fontconfig_file(extra_dirs: Iterable[Path] = ()) -> Path:
    """A `fonts.conf` for ffmpeg's libass: the bundled font directories (plus `extra_dirs`, where an
    operator's own fonts are), a fallback order per family, and a font cache of our own.

    Written once per content into the user cache directory (fontconfig's cache lives beside it, so the
    fonts are scanned once per host, ~0.3 s, not once per render)."""
    dirs = [*extra_dirs, *font_dirs()]  # an operator's fonts first: they win over a bundled font of the same name
    root = Path(platformdirs.user_cache_dir("reelforge")) / "fontconfig"
    accept = "".join(f"<family>{xml_escape(name)}</family>" for name in FALLBACK_FAMILIES)
    aliases = "".join(
        f'<alias binding="same"><family>{xml_escape(name)}</family><accept>{accept}</accept></alias>\n'
        for name in (*LATIN_FAMILY.values(), "sans-serif", "serif", "monospace")
    )
    text = (
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
        + "".join(f"<dir>{xml_escape(str(d))}</dir>\n" for d in dirs)
        + f"<cachedir>{xml_escape(str(root / 'cache'))}</cachedir>\n"
        + aliases
        # matplotlib's LastResort font draws a box for every code point: never a fallback
        + "<selectfont><rejectfont><glob>*LastResort*</glob></rejectfont></selectfont>\n</fontconfig>\n"
    )
    path = root / f"fonts-{hashlib.sha256(text.encode()).hexdigest()[:16]}.conf"
    if not path.is_file():
        root.mkdir(parents=True, exist_ok=True)
        scratch = path.with_suffix(f".{os.getpid()}.tmp")
        scratch.write_text(text, "utf-8")
        os.replace(scratch, path)
    return path


def font_env(extra_dirs: Iterable[Path] = ()) -> dict[str, str]:
    """The environment for an ffmpeg that draws text with libass: this process's, with our fonts.conf."""
    return {**os.environ, "FONTCONFIG_FILE": str(fontconfig_file(extra_dirs))}


def ass_size(face: FontFace, px: float) -> float:
    """The ASS `Fontsize` that draws glyphs `px` pixels to the em, as drawtext and Pillow size them.

    libass scales a font so its ascender-to-descender height (OS/2 win metrics) equals Fontsize, so the
    em is smaller than Fontsize by that ratio."""
    return px * _line_ratio(face.path, face.index)


@functools.cache
def _line_ratio(path: Path, index: int) -> float:
    font = _open(path, index)
    units = font["head"].unitsPerEm
    os2 = font.get("OS/2")
    if os2 is not None and os2.usWinAscent + os2.usWinDescent > 0:
        return float(os2.usWinAscent + os2.usWinDescent) / units
    hhea = font["hhea"]
    return float(hhea.ascent - hhea.descent) / units

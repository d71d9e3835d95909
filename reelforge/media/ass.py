"""Writing ASS (Advanced SubStation Alpha) scripts for libass, which draws all text in ffmpeg.

Why libass rather than `drawtext`: drawtext takes one font file and draws a box for every glyph that
file lacks; libass asks fontconfig for a fallback font per missing glyph (`reelforge.media.fonts`),
shapes with HarfBuzz, orders right-to-left text with FriBiDi, and draws styled, timed, per-word
highlighted text, which captions need anyway. One script per text layer: `PlayResX/Y` is the frame size,
so every size and position below is in output pixels.

User text never becomes markup: `escape_text` neutralises `{` `}` (override blocks) and backslash
sequences (`\\N`, `\\h`), and line breaks become `\\N`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WORD_JOINER = "\u2060"  # invisible, no width: breaks up `\N` and `{...}` without changing what is drawn


def escape_text(text: str) -> str:
    """`text` as literal ASS dialogue text: braces and backslashes drawn as themselves, newlines as `\\N`."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\\", "\\" + WORD_JOINER).replace("{", "\\{").replace("}", "\\}")
    return text.replace("\n", "\\N")


def colour(rgba: tuple[int, int, int, int], opacity: float = 1.0) -> str:
    """`&HAABBGGRR` for an RGBA colour: ASS alpha counts transparency (00 opaque, FF invisible)."""
    r, g, b, a = rgba
    alpha = 255 - round(a * max(0.0, min(1.0, opacity)))
    return f"&H{alpha:02X}{b:02X}{g:02X}{r:02X}"


def timestamp(seconds: float) -> str:
    """`H:MM:SS.cc`, ASS's centisecond clock."""
    centis = max(0, round(seconds * 100))
    hours, rest = divmod(centis, 360_000)
    minutes, rest = divmod(rest, 6000)
    secs, cs = divmod(rest, 100)
    return f"{hours}:{minutes:02d}:{secs:02d}.{cs:02d}"


def alignment(x: float, y: float) -> int:
    """The numpad `\\an` code for an anchor given as fractions (0 = left/top, 1 = right/bottom)."""
    column = 0 if x < 1 / 3 else (2 if x > 2 / 3 else 1)
    row = 0 if y > 2 / 3 else (2 if y < 1 / 3 else 1)  # numpad: 1-3 bottom, 4-6 middle, 7-9 top
    return 1 + column + 3 * row


@dataclass(frozen=True)
class Style:
    """One `[V4+ Styles]` line; colours are `&HAABBGGRR` strings from `colour`."""

    name: str = "Default"
    font: str = "Noto Sans"
    size: float = 48.0
    primary: str = "&H00FFFFFF"
    secondary: str = "&H00FFFFFF"  # karaoke: the colour before a word is reached
    outline_colour: str = "&H00000000"
    back: str = "&H80000000"
    bold: bool = False
    italic: bool = False
    border_style: int = 1  # 1 outline + shadow, 3 opaque box (OutlineColour, Outline = padding)
    outline: float = 0.0
    shadow: float = 0.0
    alignment: int = 2
    margin_l: int = 0
    margin_r: int = 0
    margin_v: int = 0

    def line(self) -> str:
        fields = [
            self.name,
            self.font,
            f"{self.size:.2f}",
            self.primary,
            self.secondary,
            self.outline_colour,
            self.back,
            "-1" if self.bold else "0",
            "-1" if self.italic else "0",
            "0",
            "0",
            "100",
            "100",
            "0",
            "0",
            str(self.border_style),
            f"{self.outline:.2f}",
            f"{self.shadow:.2f}",
            str(self.alignment),
            str(self.margin_l),
            str(self.margin_r),
            str(self.margin_v),
            "1",
        ]
        return "Style: " + ",".join(fields)


@dataclass(frozen=True)
class Event:
    start: float
    end: float
    text: str  # already escaped, with any override tags
    style: str = "Default"
    layer: int = 0

    def line(self) -> str:
        return f"Dialogue: {self.layer},{timestamp(self.start)},{timestamp(self.end)},{self.style},,0,0,0,,{self.text}"


def script(width: int, height: int, styles: Sequence[Style], events: Sequence[Event], wrap: bool = False) -> str:
    """A whole ASS script. `wrap=False` (WrapStyle 2): only our own `\\N` break lines."""
    return "\n".join(
        [
            "[Script Info]",
            "ScriptType: v4.00+",
            f"PlayResX: {width}",
            f"PlayResY: {height}",
            f"WrapStyle: {0 if wrap else 2}",
            "ScaledBorderAndShadow: yes",
            "YCbCr Matrix: None",
            "",
            "[V4+ Styles]",
            "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, "
            "Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, "
            "Alignment, MarginL, MarginR, MarginV, Encoding",
            *(style.line() for style in styles),
            "",
            "[Events]",
            "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
            *(event.line() for event in events),
            "",
        ]
    )

"""Caption cues: parsed from SRT or WebVTT, given inline, or made by a recognizer; laid out as ASS events.

A `Cue` is a span of time with its text and, when the source knows them (a recognizer's word timings),
the time of each word. `events` turns cues into libass events in one of three styles:

- `plain`: white text with a dark outline;
- `boxed`: text on a translucent box (ASS BorderStyle 3);
- `highlight`: the active word in another colour, one event per word (karaoke `\\k` would leave spoken
  words lit; captions light only the word being said). Cues without word timings share their time
  among their words by length, which is close enough for a caption.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from reelforge.media import ass

MAX_CUES = 2000


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = field(default=())

    def timed_words(self) -> list[Word]:
        """The cue's words with times: the recognizer's, or the cue's span shared by word length."""
        if self.words:
            return list(self.words)
        parts = self.text.split()
        if not parts:
            return []
        total = sum(len(p) + 1 for p in parts)
        words, at = [], self.start
        for part in parts:
            length = (self.end - self.start) * (len(part) + 1) / total
            words.append(Word(at, at + length, part))
            at += length
        return words


class SubtitleError(ValueError):
    """A subtitle file that cannot be read; the message says where."""


_TIME = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{1,2})[.,](\d{1,3})")
_ARROW = re.compile(r"^\s*(\S+)\s*-->\s*(\S+)")
_TAG = re.compile(r"<[^>]*>|\{\\[^}]*\}")


def _seconds(text: str, line: int) -> float:
    match = _TIME.fullmatch(text.strip())
    if match is None:
        raise SubtitleError(f"line {line}: {text!r} is not a time (HH:MM:SS,mmm)")
    hours, minutes, seconds, fraction = match.groups()
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + int(fraction.ljust(3, "0")) / 1000


def parse_subtitles(text: str) -> list[Cue]:
    """Cues of an SRT or WebVTT file (told apart by the `WEBVTT` header; the timing lines are alike).

    Cue numbers, VTT settings after the times, NOTE/STYLE blocks and inline tags (`<i>`, `<c.x>`,
    `{\\an8}`) are dropped; the text is kept with its line breaks."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff").split("\n")
    cues: list[Cue] = []
    index = 0
    while index < len(lines):
        match = _ARROW.match(lines[index])
        if match is None:
            index += 1
            continue
        start, end = _seconds(match.group(1), index + 1), _seconds(match.group(2), index + 1)
        if end <= start:
            raise SubtitleError(f"line {index + 1}: the cue ends ({end:g} s) before it starts ({start:g} s)")
        body = []
        index += 1
        while index < len(lines) and lines[index].strip():
            body.append(_TAG.sub("", lines[index]).strip())
            index += 1
        content = "\n".join(line for line in body if line)
        if content:
            cues.append(Cue(start, end, content))
        if len(cues) > MAX_CUES:
            raise SubtitleError(f"more than {MAX_CUES} cues")
    if not cues:
        raise SubtitleError("no cue found (expected SRT or WebVTT: `00:00:01,000 --> 00:00:02,500` lines)")
    return cues


@dataclass(frozen=True)
class CaptionStyle:
    style: str  # plain | boxed | highlight
    ass_style: ass.Style
    highlight: str  # &HAABBGGRR of the active word
    x: float
    y: float


def events(
    cues: Sequence[Cue], style: CaptionStyle, offset: float, until: float, line: Callable[[str], str]
) -> list[ass.Event]:
    """ASS events for `cues` shifted by `offset` seconds and cut at `until`. A cue's text may hold line
    breaks (the caller wraps it); `line` turns a piece of caption text into ASS text (escaping and
    per-script sizes)."""
    tags = f"{{\\an{style.ass_style.alignment}\\pos({style.x:.1f},{style.y:.1f})}}"
    lit = f"{{\\1c&H{style.highlight[4:]}&}}"  # &HAABBGGRR -> the \1c colour &HBBGGRR&
    result: list[ass.Event] = []
    for cue in cues:
        start, end = offset + cue.start, min(until, offset + cue.end)
        if end <= start:
            continue
        if style.style != "highlight":
            result.append(ass.Event(start, end, tags + _lines(cue.text, line)))
            continue
        tokens = re.split(r"(\s+)", cue.text)  # words at even indices, the spaces and breaks between them
        spoken = [i for i in range(0, len(tokens), 2) if tokens[i]]
        timed = cue.timed_words()
        if len(timed) != len(spoken):
            timed = Cue(cue.start, cue.end, cue.text).timed_words()
        for n, token_index in enumerate(spoken):
            word_start = offset + (cue.start if n == 0 else timed[n].start)
            word_end = min(end, offset + (timed[n + 1].start if n + 1 < len(timed) else cue.end))
            if word_end <= word_start:
                continue
            parts = []
            for i, token in enumerate(tokens):
                if i % 2:
                    parts.append("\\N" if "\n" in token else " ")
                elif token:
                    parts.append(lit + line(token) + "{\\r}" if i == token_index else line(token))
            result.append(ass.Event(word_start, word_end, tags + "".join(parts)))
    return result


def _lines(text: str, line: Callable[[str], str]) -> str:
    return "\\N".join(line(part) for part in text.split("\n"))

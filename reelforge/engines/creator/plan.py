"""The deterministic planner: a prompt and some assets in, an AVS Template JSON v1 out.

It sequences the visual assets over the requested length (videos keep their own length, images share
what is left; a screen recording is cut into highlights from the active segments and scene changes its
analysis found), opens with a title taken from the prompt, lays audio assets under the whole video, and,
when there is nothing to show, asks for generated clips (one per sentence of the prompt, cycling). Same
inputs, same plan: it is the default because it needs nothing but the inputs.

When asked (`voiceover` / `captions` in the request's options, or a prompt that says "with a voice-over",
"narrated", "with captions" or "subtitled"), it adds a `voice` block reading the prompt's script over the
whole video (music under it drops to a third) and a `captions` block of the script, one cue per sentence,
timed by length; with a voice-over the captions light each word as it is said. The voice is the espeak-ng
voice of the prompt's script (Chinese, Arabic, Hindi, Russian, ...); titles are set in the prompt's own
script by the font stack.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from typing import Any

CLIP_SECONDS = 5.0
TITLE_SECONDS = 3.0
MIN_IMAGE_SECONDS = 2.0
TITLE_WORDS = 8


HIGHLIGHT_SECONDS = 4.0
"""The longest cut the planner takes from one active segment of a screen recording."""


@dataclass(frozen=True)
class PlannedAsset:
    ref: str
    type: str  # video | image | audio
    name: str
    seconds: float | None = None  # length of a video or audio input, when known
    segments: tuple[tuple[float, float], ...] = ()
    """A screen recording's active stretches (start, end seconds, `media/screen.py`); empty: use it whole."""
    scene_changes: tuple[float, ...] = ()
    """Where a screen recording's picture changes; highlights are split there."""
    trim: float = 0.0
    """Seconds into the source a planned cut starts (a highlight of a screen recording)."""


def highlights(asset: PlannedAsset) -> list[tuple[float, float]]:
    """(trim, length) cuts of a screen recording: each active segment split at its scene changes, each piece
    at most `HIGHLIGHT_SECONDS` from its start (where the new screen appears)."""
    cuts = []
    for start, end in asset.segments:
        bounds = [start, *(t for t in asset.scene_changes if start < t < end), end]
        for low, high in itertools.pairwise(bounds):
            if high - low >= 0.5:
                cuts.append((round(low, 3), round(min(high - low, HIGHLIGHT_SECONDS), 3)))
    return cuts


@dataclass(frozen=True)
class ClipRequest:
    """A clip the planner wants generated: its prompt, length, and the ref the template uses for it."""

    ref: str
    prompt: str
    seconds: float


def _cuts(asset: PlannedAsset) -> list[PlannedAsset]:
    """A screen recording stands for its highlights (each a cut with its own trim); anything else for itself."""
    if not asset.segments:
        return [asset]
    cuts = [PlannedAsset(asset.ref, "video", asset.name, length, trim=trim) for trim, length in highlights(asset)]
    return cuts or [asset]


def title_from(prompt: str) -> str:
    words = re.sub(r"\s+", " ", prompt).strip().split(" ")
    title = " ".join(words[:TITLE_WORDS])
    return title + ("..." if len(words) > TITLE_WORDS else "")


def sentences(prompt: str) -> list[str]:
    parts = [p.strip() for p in re.split(r"(?<=[.!?;])\s+", prompt) if p.strip()]
    return parts or [prompt.strip()]


def clips_for(prompt: str, seconds: float) -> list[ClipRequest]:
    count = max(1, math.ceil(seconds / CLIP_SECONDS - 1e-9))
    lines = sentences(prompt)
    clips = []
    for index in range(count):
        length = min(CLIP_SECONDS, seconds - index * CLIP_SECONDS)
        clips.append(ClipRequest(ref=f"generated:{index}", prompt=lines[index % len(lines)], seconds=length))
    return clips


_VOICE_WORDS = re.compile(r"\b(voice[- ]?over|voiceover|narrat\w*|spoken|read aloud)\b", re.IGNORECASE)
_CAPTION_WORDS = re.compile(r"\b(captions?|captioned|subtitles?|subtitled)\b", re.IGNORECASE)
_LENGTH = re.compile(r"\b(?:a |an )?\d{1,3}\s*-?\s*(?:seconds?|secs?|s)\b(?:\s+long)?", re.IGNORECASE)
# (first code point, last code point) -> espeak-ng voice, for the script of the prompt's first letters
_SCRIPT_VOICES = [
    (0x4E00, 0x9FFF, "cmn"),
    (0x3040, 0x30FF, "ja"),
    (0xAC00, 0xD7AF, "ko"),
    (0x0600, 0x06FF, "ar"),
    (0x0590, 0x05FF, "he"),
    (0x0900, 0x097F, "hi"),
    (0x0E00, 0x0E7F, "th"),
    (0x0400, 0x04FF, "ru"),
    (0x0370, 0x03FF, "el"),
]


def wants_voiceover(prompt: str, options: dict[str, Any]) -> bool:
    value = options.get("voiceover")
    return bool(value) if value is not None else bool(_VOICE_WORDS.search(prompt))


def wants_captions(prompt: str, options: dict[str, Any]) -> bool:
    value = options.get("captions")
    return bool(value) if value is not None else bool(_CAPTION_WORDS.search(prompt))


def voice_for(text: str) -> str:
    """The espeak-ng voice for the script most of `text`'s letters are in (English by default)."""
    counts: dict[str, int] = {}
    for char in text:
        code = ord(char)
        for low, high, voice in _SCRIPT_VOICES:
            if low <= code <= high:
                counts[voice] = counts.get(voice, 0) + 1
    latin = sum(1 for char in text if char.isascii() and char.isalpha())
    best = max(counts.items(), key=lambda item: item[1], default=("en", 0))
    return best[0] if best[1] > latin / 3 else "en"


def script_of(prompt: str) -> str:
    """What a voice-over reads: the prompt without its length ("a 20 second teaser" -> "teaser")."""
    return re.sub(r"\s+", " ", _LENGTH.sub("", prompt)).strip() or prompt.strip()


def caption_cues(script: str, seconds: float) -> list[dict[str, Any]]:
    """One cue per sentence of `script`, sharing `seconds` by sentence length."""
    lines = sentences(script)
    total = sum(len(line) for line in lines) or 1
    cues, at = [], 0.0
    for line in lines:
        end = min(seconds, at + seconds * len(line) / total)
        if end - at > 0.05:
            cues.append({"start": round(at, 3), "end": round(end, 3), "text": line[:1000]})
        at = end
    return cues


def plan(
    prompt: str,
    seconds: float,
    assets: list[PlannedAsset],
    clips: list[ClipRequest] | None = None,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The template for `prompt`; `clips` (from `clips_for`) stand in when no visual asset is given;
    `options` (`voiceover`, `captions`, `voice`) add a voice-over and captions of the prompt's script."""
    options = options or {}
    visuals = [cut for a in assets if a.type in ("video", "image") for cut in _cuts(a)]
    if not visuals:
        visuals = [PlannedAsset(c.ref, "video", c.prompt, c.seconds) for c in (clips or [])]
    blocks: list[dict[str, Any]] = []
    videos_total = sum(min(a.seconds or CLIP_SECONDS, seconds) for a in visuals if a.type == "video")
    images = [a for a in visuals if a.type == "image"]
    if images:
        image_seconds = max(MIN_IMAGE_SECONDS, (seconds - videos_total) / len(images))
    else:
        seconds = min(seconds, videos_total) if videos_total else seconds
        image_seconds = 0.0
    cursor = 0.0
    for asset in visuals:
        if cursor >= seconds - 1e-6:
            break
        wanted = min(asset.seconds or CLIP_SECONDS, seconds) if asset.type == "video" else image_seconds
        length = round(min(wanted, seconds - cursor), 3)
        if length <= 0:
            continue
        block: dict[str, Any] = {
            "type": asset.type,
            "start": round(cursor, 3),
            "duration": length,
            "source": {"ref": asset.ref, "name": asset.name},
        }
        if asset.trim:
            block["trim"] = asset.trim
        blocks.append(block)
        cursor += length
    total = round(cursor, 3) if blocks else seconds
    voiceover = wants_voiceover(prompt, options)
    for audio in (a for a in assets if a.type == "audio"):
        music: dict[str, Any] = {"type": "audio", "start": 0, "duration": total}
        music["source"] = {"ref": audio.ref, "name": audio.name}
        if voiceover:
            music["volume"] = 0.33  # under the voice
        blocks.append(music)
    script = script_of(prompt)
    if voiceover:
        voice = options.get("voice") if isinstance(options.get("voice"), str) else voice_for(script)
        blocks.append(
            {"type": "voice", "id": "voiceover", "start": 0, "duration": total, "text": script[:1000], "voice": voice}
        )
    blocks.append(
        {"type": "text", "start": 0, "duration": round(min(TITLE_SECONDS, total), 3), "text": title_from(prompt)}
    )
    if wants_captions(prompt, options):
        blocks.append(
            {
                "type": "captions",
                "start": 0,
                "duration": total,
                "cues": caption_cues(script, total),
                "style": "highlight" if voiceover else "boxed",
            }
        )
    return {"version": "1", "name": title_from(prompt), "blocks": blocks}

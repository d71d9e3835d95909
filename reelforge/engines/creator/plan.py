"""The deterministic planner: a prompt and some assets in, an AVS Template JSON v1 out.

It sequences the visual assets over the requested length (videos keep their own length, images share
what is left), opens with a title taken from the prompt, lays audio assets under the whole video, and,
when there is nothing to show, asks for generated clips (one per sentence of the prompt, cycling). Same
inputs, same plan: it is the default because it needs nothing but the inputs.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

CLIP_SECONDS = 5.0
TITLE_SECONDS = 3.0
MIN_IMAGE_SECONDS = 2.0
TITLE_WORDS = 8


@dataclass(frozen=True)
class PlannedAsset:
    ref: str
    type: str  # video | image | audio
    name: str
    seconds: float | None = None  # length of a video or audio input, when known


@dataclass(frozen=True)
class ClipRequest:
    """A clip the planner wants generated: its prompt, length, and the ref the template uses for it."""

    ref: str
    prompt: str
    seconds: float


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


def plan(
    prompt: str, seconds: float, assets: list[PlannedAsset], clips: list[ClipRequest] | None = None
) -> dict[str, Any]:
    """The template for `prompt`; `clips` (from `clips_for`) stand in when no visual asset is given."""
    visuals = [a for a in assets if a.type in ("video", "image")]
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
        blocks.append(
            {
                "type": asset.type,
                "start": round(cursor, 3),
                "duration": length,
                "source": {"ref": asset.ref, "name": asset.name},
            }
        )
        cursor += length
    total = round(cursor, 3) if blocks else seconds
    for audio in (a for a in assets if a.type == "audio"):
        blocks.append(
            {"type": "audio", "start": 0, "duration": total, "source": {"ref": audio.ref, "name": audio.name}}
        )
    blocks.append(
        {"type": "text", "start": 0, "duration": round(min(TITLE_SECONDS, total), 3), "text": title_from(prompt)}
    )
    return {"version": "1", "name": title_from(prompt), "blocks": blocks}

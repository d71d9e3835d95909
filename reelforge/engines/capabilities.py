"""What an engine (or one model of it) can make, and the one checker every engine's `validate` starts with.

An engine declares its rules as data (`EngineCapabilities`: kinds, frame sizes, fps, duration rules) and
the instance narrows them to its model's settings (the draft engine's `max_duration`, a diffusion model's
`max_side`, a hosted provider's `durations` and `sizes`). `check_capabilities` refuses a request outside
them with one wording for every engine, naming the field (a JSON pointer) and what to change. What is not
a shared rule (a template's length, keyframe positions, a family's 8n+1 frames) stays in the engine's own
`validate`, after this check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reelforge.domain.errors import invalid
from reelforge.domain.request import GenerationRequest, Kind


@dataclass(frozen=True)
class EngineCapabilities:
    kinds: frozenset[Kind]
    description: str = ""
    who: str = "this model"
    """How messages name the refusing engine: "the draft engine", "this ltx model", "the hosted provider ..."."""
    min_side: int | None = None
    max_side: int | None = None
    """Width and height, in pixels, each within [min_side, max_side] (None: no bound)."""
    even_sides: bool = False
    """Width and height must be even (H.264 in 4:2:0 halves the colour resolution)."""
    sizes: tuple[str, ...] = ()
    """`WIDTHxHEIGHT` sizes the model makes; empty: any (within the side bounds)."""
    min_fps: float | None = None
    max_fps: float | None = None
    max_duration: float | None = None
    """Seconds; a request must ask for more than 0 and at most this (None: the engine decides elsewhere)."""
    durations: tuple[float, ...] = ()
    """The only durations the model makes, in seconds; empty: any."""
    whole_seconds: bool = False
    min_frames: int = 0
    """Frames the request must come to at its fps (1 for engines that render frames: no empty video)."""

    def to_dict(self) -> dict[str, Any]:
        return {"kinds": sorted(k.value for k in self.kinds), "description": self.description}

    def kind_names(self) -> str:
        return ", ".join(sorted(k.value for k in self.kinds))


def check_capabilities(request: GenerationRequest, caps: EngineCapabilities) -> None:
    """Raise INVALID_PAYLOAD (400) for the first rule of `caps` that `request` breaks, naming its field.

    Order: kind, size (listed sizes, then width and height), fps, duration.
    """
    if request.kind not in caps.kinds:
        raise invalid(f"{caps.who} does not do {request.kind.value}; it does {caps.kind_names()}", "/kind")

    size = f"{request.width}x{request.height}"
    if caps.sizes and size not in caps.sizes:
        raise invalid(f"{caps.who} makes only these sizes: {', '.join(caps.sizes)}; got {size}", "/size")
    for field, value in (("width", request.width), ("height", request.height)):
        low = caps.min_side if caps.min_side is not None else 1
        if value < low or (caps.max_side is not None and value > caps.max_side):
            bounds = (
                f"between {low} and {caps.max_side} pixels" if caps.max_side is not None else f"at least {low} pixels"
            )
            raise invalid(f"{field} must be {bounds}, got {value}", f"/{field}")
        if caps.even_sides and value % 2:
            raise invalid(
                f"{field} must be even (H.264 halves the colour resolution), got {value}; "
                f"use {value + 1} or {value - 1}",
                f"/{field}",
            )

    fps = request.fps
    if (caps.min_fps is not None and fps < caps.min_fps) or (caps.max_fps is not None and fps > caps.max_fps):
        raise invalid(f"fps must be between {caps.min_fps or 0:g} and {caps.max_fps or 0:g}, got {fps:g}", "/fps")

    duration = request.duration
    if caps.whole_seconds and duration != round(duration):
        raise invalid(f"duration must be a whole number of seconds, got {duration:g}", "/duration")
    if caps.durations and not any(abs(duration - d) < 1e-3 for d in caps.durations):
        allowed = ", ".join(f"{d:g}" for d in caps.durations)
        raise invalid(f"{caps.who} makes videos of {allowed} seconds; {duration:g} s is not one of them", "/duration")
    if caps.max_duration is not None and not 0 < duration <= caps.max_duration:
        raise invalid(
            f"duration must be more than 0 and at most {caps.max_duration:g} seconds, got {duration:g}", "/duration"
        )
    if caps.min_frames and request.num_frames < caps.min_frames:
        raise invalid(
            f"duration {duration:g} s at {fps:g} fps is less than one frame; ask for at least {1 / fps:.3g} seconds",
            "/duration",
        )

"""What every provider kind offers the engine, and the helpers they share.

A provider kind knows one API's paths, field names and status words; the engine knows the life of a
task (create, poll, cancel, download) and never a field name. Input images travel as given when they
are URLs (the provider fetches them, as it would for any client) and as `data:` URIs when they are
uploads stored by reelforge, which no provider could reach.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, cast

from PIL import Image, UnidentifiedImageError

from reelforge.domain.errors import ErrorCode, ReelforgeError, invalid
from reelforge.domain.request import STORED_PREFIX, GenerationRequest, Kind
from reelforge.engines.base import RunContext
from reelforge.engines.upstream.client import UpstreamClient

State = Literal["queued", "running", "succeeded", "failed", "cancelled"]

_MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}


@dataclass(frozen=True)
class UpstreamStatus:
    """One poll's answer in the engine's words."""

    state: State
    progress: float | None = None
    error_code: str | None = None
    error_message: str | None = None


@dataclass(frozen=True)
class Downloaded:
    video: Path
    thumbnail: Path | None  # None: the provider has none (or it was unreadable); the engine makes one


class Provider(Protocol):
    kinds: frozenset[Kind]
    rules: dict[str, Any]
    """Its duration and size rules as `EngineCapabilities` fields (`durations`, `sizes`, `whole_seconds`);
    the engine checks them, and the kind, with the shared checker before `validate`."""

    def auth_headers(self, key: str) -> dict[str, str]:
        """The headers that carry `key` (only ever sent to the provider's own origin)."""

    def validate(self, request: GenerationRequest) -> None:
        """INVALID_PAYLOAD for what this provider and model cannot do beyond `kinds` and `rules`."""

    def create(self, client: UpstreamClient, request: GenerationRequest, ctx: RunContext) -> str:
        """Create the provider's task (with `Idempotency-Key: <ctx.task_id>`); its id."""

    def status(self, client: UpstreamClient, upstream_id: str) -> UpstreamStatus:
        """One poll."""

    def cancel(self, client: UpstreamClient, upstream_id: str) -> bool:
        """Ask the provider to cancel, once; True if it accepted."""

    def download(self, client: UpstreamClient, upstream_id: str, workdir: Path, max_bytes: int) -> Downloaded:
        """Fetch the finished video (and the provider's thumbnail, if it has one) into `workdir`."""


def state_and_progress(
    answer: dict[str, Any], states: Mapping[str, str], normalise: Callable[[str], str]
) -> tuple[State, float | None]:
    """The provider's status mapped to ours (UPSTREAM_ERROR for one we don't know) and its progress, if a number."""
    state = states.get(normalise(str(answer.get("status", ""))))
    if state is None:
        raise ReelforgeError(
            ErrorCode.UPSTREAM_ERROR,
            f"the hosted provider reported an unknown status {str(answer.get('status'))[:40]!r}",
        )
    progress = answer.get("progress")
    return cast(State, state), float(progress) if isinstance(progress, int | float) else None


def image_reference(source: str, ctx: RunContext) -> str:
    """What to send for one input image: its URL as given, or a stored upload as a data: URI."""
    if not source.startswith(STORED_PREFIX):
        return source
    data = ctx.read_input(source)
    try:
        with Image.open(io.BytesIO(data)) as image:
            mime = _MIME.get(image.format or "", "image/png")
    except (UnidentifiedImageError, OSError):
        mime = "image/png"
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def nearest_aspect(width: int, height: int, choices: tuple[str, ...], tolerance: float = 0.03) -> str:
    """The aspect in `choices` within `tolerance` (log ratio) of `width`:`height`, or INVALID_PAYLOAD."""
    ratio = width / height

    def distance(aspect: str) -> float:
        w, h = (int(part) for part in aspect.split(":"))
        return abs(math.log(ratio * h / w))

    best = min(choices, key=distance)
    if distance(best) > tolerance:
        raise invalid(
            f"the hosted provider behind this model makes only {', '.join(choices)} videos; "
            f"{width}x{height} is none of them",
            "/aspectRatio",
        )
    return best


def seconds_text(duration: float) -> str:
    """A duration as the provider's `seconds` string: "5", "4.5", "5.041667"."""
    return f"{duration:.6f}".rstrip("0").rstrip(".")

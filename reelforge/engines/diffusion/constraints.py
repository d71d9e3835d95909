"""What a diffusion model can make, checked before any credit is taken, and the generation plan.

LTX-Video and LTX-2 work on 32-pixel latent blocks and 8-frame latent steps (frame counts 8n+1); Wan on
16-pixel blocks and 4-frame steps (4n+1). LTX-2's condition pipeline places images on latent frames, so
there two images may not fall in the same 8-frame step (frame 0 is a step of its own). Requests come
from dialects that know nothing of this: a Kling-style
"5 seconds at 24 fps, 1280x720" is 120 frames and 720 rows, valid for neither model.

The rule (documented in docs/gpu.md): by default a request is *snapped up* -- the model generates the
next valid size and frame count above the request, and the engine crops the extra rows and columns
equally from both sides and drops the extra frames from the end, so the MP4 has exactly the requested
width, height, frame count and fps. A request that is already valid reaches the pipeline unchanged.
With `strict_sizes = true` in the model's settings, such requests fail instead with a 400 naming the
field (`/width`, `/height`, `/duration`) and the nearest valid values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from reelforge.domain.errors import invalid
from reelforge.domain.request import GenerationRequest, Kind
from reelforge.engines.capabilities import EngineCapabilities, check_capabilities
from reelforge.engines.diffusion.settings import DiffusionSettings

MIN_FPS, MAX_FPS = 1.0, 60.0
MAX_STEPS = 200
MAX_IMAGES = 16


@dataclass(frozen=True)
class FamilyRules:
    size_multiple: int  # pixels per latent block (VAE compression x transformer patch)
    frame_multiple: int  # frames per latent frame; counts are frame_multiple * n + 1


RULES = {"ltx": FamilyRules(32, 8), "ltx2": FamilyRules(32, 8), "wan": FamilyRules(16, 4)}


def latent_index(frame: int, frame_multiple: int) -> int:
    """The latent frame that pixel `frame` falls in: frame 0 alone, then frames 1..8 -> 1, 9..16 -> 2 (LTX)."""
    return -(-frame // frame_multiple)


@dataclass(frozen=True)
class Plan:
    """How one request is generated: the pipeline's size and frame count, the output's, and where each
    input image conditions the video."""

    mode: str  # "text" | "image" | "condition" | "first_last"
    width: int
    height: int
    num_frames: int
    out_width: int
    out_height: int
    out_frames: int
    steps: int
    positions: tuple[int, ...] = ()  # frame index per input image (condition and first_last modes)


def _snap_up(value: int, multiple: int) -> int:
    return max(multiple, math.ceil(value / multiple) * multiple)


def _snap_frames(count: int, multiple: int) -> int:
    return math.ceil(max(count - 1, 0) / multiple) * multiple + 1


def capabilities_for(settings: DiffusionSettings, description: str = "") -> EngineCapabilities:
    """The shared rules of one diffusion model: its kinds, sides from one latent block to `max_side`, fps."""
    return EngineCapabilities(
        kinds=settings.kinds,
        description=description,
        who=f"this {settings.family} model",
        min_side=RULES[settings.family].size_multiple,
        max_side=settings.max_side,
        even_sides=True,
        min_fps=MIN_FPS,
        max_fps=MAX_FPS,
        min_frames=1,
    )


def plan(request: GenerationRequest, settings: DiffusionSettings, caps: EngineCapabilities | None = None) -> Plan:
    """The generation plan, or `ReelforgeError(INVALID_PAYLOAD)` naming the field to change.

    The shared rules (`caps`, default `capabilities_for(settings)`) first, then the family's block and frame grid.
    """
    rules = RULES[settings.family]
    check_capabilities(request, caps or capabilities_for(settings))

    sizes = {}
    for name, value in (("width", request.width), ("height", request.height)):
        snapped = _snap_up(value, rules.size_multiple)
        if snapped != value and settings.strict_sizes:
            lower = max(rules.size_multiple, snapped - rules.size_multiple)
            raise invalid(
                f"{name} must be a multiple of {rules.size_multiple} for {settings.family} models, "
                f"got {value}; use {lower} or {snapped}",
                f"/{name}",
            )
        sizes[name] = snapped

    frames = request.num_frames
    generated = _snap_frames(frames, rules.frame_multiple)
    if generated > settings.max_frames:
        raise invalid(
            f"{request.duration:g} s at {request.fps:g} fps is {frames} frames; this model makes at most "
            f"{settings.max_frames} ({settings.max_frames / request.fps:.3g} s at {request.fps:g} fps)",
            "/duration",
        )
    if generated != frames and settings.strict_sizes:
        below = max(1, generated - rules.frame_multiple)
        raise invalid(
            f"{settings.family} models make {rules.frame_multiple}n+1 frames; {request.duration:g} s at "
            f"{request.fps:g} fps is {frames}; use duration {below / request.fps:.4g} ({below} frames) or "
            f"{generated / request.fps:.4g} ({generated} frames)",
            "/duration",
        )

    steps = settings.default_steps if request.steps is None else request.steps
    if not 1 <= steps <= MAX_STEPS:
        raise invalid(f"steps must be between 1 and {MAX_STEPS}, got {steps}", "/steps")

    mode, positions = _mode_and_positions(request, settings, frames)
    if mode == "condition" and settings.family == "ltx2":
        _check_latent_steps(positions, rules.frame_multiple)
    return Plan(
        mode=mode,
        width=sizes["width"],
        height=sizes["height"],
        num_frames=generated,
        out_width=request.width,
        out_height=request.height,
        out_frames=frames,
        steps=steps,
        positions=positions,
    )


def _mode_and_positions(
    request: GenerationRequest, settings: DiffusionSettings, frames: int
) -> tuple[str, tuple[int, ...]]:
    kind, images = request.kind, request.images
    if kind == Kind.TEXT_TO_VIDEO:
        if not (request.prompt or "").strip():
            raise invalid("text_to_video needs a prompt describing the video", "/prompt")
        return "text", ()
    if kind == Kind.IMAGE_TO_VIDEO:
        if len(images) != 1:
            raise invalid(f"image_to_video takes exactly one image, got {len(images)}", "/images")
        return "image", (0,)
    if len(images) < 2:
        raise invalid(f"{kind.value} needs at least 2 images, got {len(images)}", "/images")
    if len(images) > MAX_IMAGES:
        raise invalid(f"{kind.value} takes at most {MAX_IMAGES} images, got {len(images)}", "/images")
    for k, image in enumerate(images):
        if not 0.0 <= image.strength <= 1.0:
            raise invalid(
                f"image {k} strength must be between 0 and 1, got {image.strength:g}", f"/images/{k}/strength"
            )
    if kind == Kind.MULTI_IMAGE:
        if frames < len(images):
            raise invalid(f"{frames} frames cannot show {len(images)} images; raise duration", "/duration")
        given = [image.frame for image in images]
        if any(given):
            positions = tuple(_checked_positions(request, frames))
        else:  # equal shares in the order sent: image k conditions the first frame of its share
            positions = tuple(round(k * frames / len(images)) for k in range(len(images)))
        return "condition", positions
    # keyframes
    from reelforge.engines.draft.engine import keyframe_positions  # the shared positions rule

    positions = tuple(keyframe_positions(request))
    if settings.family == "wan":
        if len(images) != 2 or positions != (0, frames - 1):
            raise invalid(
                "Wan keyframes are a first and a last frame: send exactly 2 images, at frame 0 and "
                f"frame {frames - 1} (or both at 0 to mean first and last)",
                "/images",
            )
        return "first_last", positions
    return "condition", positions


def _check_latent_steps(positions: tuple[int, ...], multiple: int) -> None:
    """LTX-2 conditions whole latent frames: two images in one 8-frame step would fight over it."""
    seen: dict[int, int] = {}
    for k, frame in enumerate(positions):
        step = latent_index(frame, multiple)
        if step in seen:
            raise invalid(
                f"images {seen[step]} and {k} (frames {positions[seen[step]]} and {frame}) fall in the same "
                f"{multiple}-frame step; ltx2 models place images at frame 0 or on frames "
                f"{multiple}n-{multiple - 1}..{multiple}n, one image per step",
                f"/images/{k}/frame",
            )
        seen[step] = k


def _checked_positions(request: GenerationRequest, frames: int) -> list[int]:
    positions = [image.frame for image in request.images]
    for k, frame in enumerate(positions):
        if not 0 <= frame < frames:
            raise invalid(
                f"image {k} is placed at frame {frame}, outside the video's frames 0..{frames - 1}",
                f"/images/{k}/frame",
            )
    return positions

"""`DraftEngine`: a fast, CPU-only preview engine. Procedural, not AI.

It needs no GPU and no model weights, renders about 3x faster than realtime at 1280x720 on 2 cores
(`python bench/bench_draft.py`; x264 is most of the cost), and honours every request field a
real engine would (size, frame rate, exact duration, seed, input images, several prompts), so an
integration can be built and tested end to end before a diffusion engine is installed. What it draws
is a procedural scene coloured by the prompt (text to video), a slow camera move over the input
image (image to video), a slideshow of camera moves dissolving into each other (multi-image), or
zoom-dissolves that pass through each image at its frame position (keyframes; see `keyframes.py`),
or the input video cover-fitted, retimed and colour graded in a look picked from the prompt and seed
(video to video; see `restyle.py`), captioned with the prompt -- a placeholder that is honest about being one.
Frames are rendered straight into I420 (`reelforge.media.yuv`) and encoded on a second thread.

Settings (the model's table in `models.toml`, `DraftEngine.Settings`), all optional:
`crf` (23), `preset` ("veryfast"), `threads` (4, fixed so output bytes do not depend on the host),
`captions` (true), `crossfade` (0.5 seconds, between long-video segments),
`transition` (0.75 seconds: the multi-image dissolve, and the shortest keyframe dissolve),
`max_duration` (120 seconds).

Keyframe positions: `images[k].frame` is the frame index (0-based, of `round(duration * fps)` frames)
at which image k shows exactly; positions must be strictly increasing. When every position is 0 (the
default, as dialects without positions send them), they are spread evenly: the first image at frame 0,
the last at the final frame. `strength` is not used: each keyframe is shown fully at its frame.
multi_image gives the images equal shares in the order sent and ignores `frame` and `strength`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from PIL import Image
from pydantic import Field

from reelforge.domain.errors import ReelforgeError, invalid
from reelforge.domain.request import GenerationRequest, Kind
from reelforge.engines.base import (
    Artifact,
    EngineCapabilities,
    EngineSettings,
    RunContext,
    check_capabilities,
    parse_settings,
)
from reelforge.engines.draft.camera import CameraMove
from reelforge.engines.draft.keyframes import KeyframeTrack, Slideshow, Still, spread_positions
from reelforge.engines.draft.restyle import VideoRestyle
from reelforge.engines.draft.scene import TextScene
from reelforge.engines.draft.timeline import Clip, Timeline, segment_spans
from reelforge.media.encode import VideoWriter, fps_fraction, write_thumbnail
from reelforge.media.images import load_image
from reelforge.media.yuv import i420_to_rgb

MIN_SIDE, MAX_SIDE = 64, 3840
MIN_FPS, MAX_FPS = 1, 60
MIN_SEGMENT_SECONDS = 1.0
MAX_IMAGES = 16  # multi_image and keyframes
MIN_IMAGE_SECONDS = 0.25  # each image's share of a multi_image video
T = TypeVar("T")
_CANCEL_CHECK_EVERY = 4  # frames
_FRAMES_SHARE = 95.0  # progress while rendering frames; the rest is finishing the file and thumbnail
_INPUT_VIDEO = "input-video"  # video_to_video's input, in the work directory while rendering
_LOAD_SHARE = 5.0  # of that, progress while fetching and preparing the images of multi_image and keyframes


class DraftSettings(EngineSettings):
    """`[models.<name>.settings]` of a draft model."""

    crf: int = Field(23, ge=0, le=51)
    preset: str = "veryfast"
    threads: int = Field(4, ge=0)
    captions: bool = True
    crossfade: float = Field(0.5, ge=0)
    transition: float = Field(0.75, ge=0)
    max_duration: float = Field(120.0, gt=0)
    load_seconds: float = Field(0.0, ge=0, le=3600)
    """Stand in for a large model's load: the `loading` phase, with no progress, for this long before the
    render (cancellable). For rehearsing what callers see during a GPU model's silent start (the MCP
    heartbeats); 0 in every shipped model."""


class DraftEngine:
    """Procedural preview videos on the CPU: text_to_video, image_to_video, long_video, multi_image,
    keyframes, video_to_video."""

    name = "draft"
    Settings = DraftSettings
    capabilities = EngineCapabilities(
        kinds=frozenset(
            {
                Kind.TEXT_TO_VIDEO,
                Kind.IMAGE_TO_VIDEO,
                Kind.LONG_VIDEO,
                Kind.MULTI_IMAGE,
                Kind.KEYFRAMES,
                Kind.VIDEO_TO_VIDEO,
            }
        ),
        description=(
            "Procedural CPU preview engine, not AI: an animated colour scene captioned with the prompt, "
            "a slow zoom and pan over the input image, a dissolving slideshow of several images, or "
            "zoom-dissolves through keyframe images at their frame positions, or the input video restyled "
            "(cover-fitted, retimed, colour graded from the prompt). Exact size, frame rate and "
            "duration; same seed, same pixels. Renders faster than realtime without a GPU."
        ),
        who="the draft engine",
        min_side=MIN_SIDE,
        max_side=MAX_SIDE,
        even_sides=True,
        min_fps=MIN_FPS,
        max_fps=MAX_FPS,
        max_duration=DraftSettings().max_duration,
        min_frames=1,
    )

    def __init__(self, settings: DraftSettings | Mapping[str, Any] | None = None) -> None:
        self.settings = parse_settings(DraftSettings, settings)
        self.crf = self.settings.crf
        self.preset = self.settings.preset
        self.threads = self.settings.threads
        self.captions = self.settings.captions
        self.crossfade = self.settings.crossfade
        self.transition = self.settings.transition
        self.max_duration = self.settings.max_duration
        self.capabilities = replace(DraftEngine.capabilities, max_duration=self.max_duration)

    def validate(self, request: GenerationRequest) -> None:
        """Reject what this engine cannot render, naming the field and what to change."""
        check_capabilities(request, self.capabilities)

        if request.kind == Kind.TEXT_TO_VIDEO and not (request.prompt or "").strip():
            raise invalid("text_to_video needs a prompt describing the video", "/prompt")
        if request.kind in (Kind.IMAGE_TO_VIDEO, Kind.LONG_VIDEO) and not request.images:
            raise invalid(f"{request.kind.value} needs an input image to start from", "/images")
        if request.kind == Kind.LONG_VIDEO:
            if not request.prompts:
                raise invalid("long_video needs a list of prompts, one per segment", "/prompts")
            for i, prompt in enumerate(request.prompts):
                if not prompt.strip():
                    raise invalid(f"prompt {i} of long_video is empty", f"/prompts/{i}")
            segment = request.duration / len(request.prompts)
            if segment < MIN_SEGMENT_SECONDS:
                raise invalid(
                    f"long_video gives each of the {len(request.prompts)} prompts {segment:.2g} s; each needs "
                    f"at least {MIN_SEGMENT_SECONDS:g} s, so raise duration to "
                    f"{MIN_SEGMENT_SECONDS * len(request.prompts):g} or send fewer prompts",
                    "/duration",
                )
        if request.kind in (Kind.MULTI_IMAGE, Kind.KEYFRAMES):
            self._validate_images(request)
        if request.kind == Kind.VIDEO_TO_VIDEO and not (request.video or "").strip():
            raise invalid("video_to_video needs an input video to restyle", "/video")

    def _validate_images(self, request: GenerationRequest) -> None:
        kind, count = request.kind.value, len(request.images)
        if count < 2:
            raise invalid(
                f"{kind} needs at least 2 images, got {count}"
                + ("; for one image use image_to_video" if count == 1 else ""),
                "/images",
            )
        if count > MAX_IMAGES:
            raise invalid(f"{kind} takes at most {MAX_IMAGES} images, got {count}", "/images")
        if request.kind == Kind.MULTI_IMAGE:
            share = request.duration / count
            if share < MIN_IMAGE_SECONDS:
                raise invalid(
                    f"multi_image gives each of the {count} images {share:.2g} s; each needs at least "
                    f"{MIN_IMAGE_SECONDS:g} s, so raise duration to {MIN_IMAGE_SECONDS * count:g} or send "
                    "fewer images",
                    "/duration",
                )
            if request.num_frames < count:
                raise invalid(
                    f"{request.num_frames} frames cannot show {count} images; raise duration or fps, "
                    "or send fewer images",
                    "/duration",
                )
        else:
            keyframe_positions(request)

    def run(self, request: GenerationRequest, ctx: RunContext) -> Artifact:
        """Render `video.mp4` and `thumbnail.jpg` (the first frame) into `ctx.workdir`."""
        self.validate(request)
        ctx.raise_if_cancelled()
        self._load(ctx)
        timeline = self._timeline(request, ctx)
        try:
            return self._render(request, ctx, timeline)
        finally:
            if isinstance(timeline, VideoRestyle):
                timeline.close()
                (ctx.workdir / _INPUT_VIDEO).unlink(missing_ok=True)

    def _load(self, ctx: RunContext) -> None:
        """`load_seconds` in the `loading` phase, checking for a cancel every tenth of a second."""
        if self.settings.load_seconds <= 0:
            return
        ctx.phase("loading")
        deadline = time.monotonic() + self.settings.load_seconds
        while (left := deadline - time.monotonic()) > 0:
            ctx.raise_if_cancelled()
            time.sleep(min(0.1, left))
        ctx.phase("rendering")

    def _render(self, request: GenerationRequest, ctx: RunContext, timeline: Clip) -> Artifact:
        total = timeline.n_frames
        start = _LOAD_SHARE if request.kind in (Kind.MULTI_IMAGE, Kind.KEYFRAMES) else 0.0
        video_path = ctx.workdir / "video.mp4"
        thumbnail_path = ctx.workdir / "thumbnail.jpg"
        first_frame = None
        with VideoWriter(
            video_path,
            request.width,
            request.height,
            request.fps,
            crf=self.crf,
            preset=self.preset,
            threads=self.threads,
        ) as writer:
            for i in range(total):
                if i % _CANCEL_CHECK_EVERY == 0:
                    ctx.raise_if_cancelled()
                frame = timeline.frame(i)
                if first_frame is None:
                    first_frame = frame.copy()
                writer.write_i420(frame)
                ctx.progress(start + (_FRAMES_SHARE - start) * (i + 1) / total)
        assert first_frame is not None  # validate() guarantees at least one frame
        write_thumbnail(i420_to_rgb(first_frame), thumbnail_path)
        ctx.progress(100.0)
        return Artifact(
            video_path=video_path,
            thumbnail_path=thumbnail_path,
            duration=total / float(fps_fraction(request.fps)),
            width=request.width,
            height=request.height,
            fps=request.fps,
        )

    def _image(self, request: GenerationRequest, ctx: RunContext, index: int) -> Image.Image:
        """Input image `index`, decoded; a failure names the image's field."""
        try:
            return load_image(ctx.read_input(request.images[index].source))
        except ReelforgeError as exc:
            if exc.field is not None:
                raise
            message = f"image {index}: {exc.message}" if len(request.images) > 1 else exc.message
            raise ReelforgeError(exc.code, message, field=f"/images/{index}", retry_after=exc.retry_after) from None

    def _images(self, request: GenerationRequest, ctx: RunContext, prepare: Callable[[int, Image.Image], T]) -> list[T]:
        """`prepare(k, image)` for every input image in order, each image decoded and dropped in turn (a
        prepared image is at most a few output frames; a decoded one can be 50 megapixels), with progress
        and a cancellation check per image."""
        prepared = []
        count = len(request.images)
        for k in range(count):
            ctx.raise_if_cancelled()
            prepared.append(prepare(k, self._image(request, ctx, k)))
            ctx.progress(_LOAD_SHARE * (k + 1) / count)
        return prepared

    def _timeline(self, request: GenerationRequest, ctx: RunContext) -> Clip:
        """The clips of the request laid out over exactly `num_frames` frames."""
        total = request.num_frames
        size = {"width": request.width, "height": request.height}
        if request.kind == Kind.TEXT_TO_VIDEO:
            prompt = request.prompt or ""
            scene = TextScene(prompt, seed=request.seed, fps=request.fps, n_frames=total, caption=self.captions, **size)
            return Timeline([scene], [(0, total)])

        if request.kind == Kind.VIDEO_TO_VIDEO:
            return self._restyle(request, ctx)
        caption = request.prompt if self.captions else None
        if request.kind == Kind.MULTI_IMAGE:
            # Equal shares, neighbours overlapping by the transition; a camera move per image.
            spans = segment_spans(total, len(request.images), round(self.transition * request.fps))
            moves = self._images(
                request,
                ctx,
                lambda k, image: CameraMove(
                    image,
                    seed=request.seed,
                    variant=k,
                    n_frames=spans[k][1] - spans[k][0],
                    width=request.width,
                    height=request.height,
                ),
            )
            return Slideshow(moves, spans, caption=caption)
        if request.kind == Kind.KEYFRAMES:
            stills = self._images(request, ctx, lambda _, image: Still(image, **size))
            return KeyframeTrack(
                stills,
                keyframe_positions(request),
                seed=request.seed,
                n_frames=total,
                transition_frames=round(self.transition * request.fps),
                caption=caption,
            )

        image = self._image(request, ctx, 0)
        if request.kind == Kind.IMAGE_TO_VIDEO:
            move = CameraMove(image, seed=request.seed, n_frames=total, caption=caption, **size)
            return Timeline([move], [(0, total)])

        # long_video: the image with the first prompt, then one scene per further prompt.
        prompts = request.prompts
        spans = segment_spans(total, len(prompts), round(self.crossfade * request.fps))
        clips: list[Clip] = []
        for j, (prompt, (start, end)) in enumerate(zip(prompts, spans, strict=True)):
            if j == 0:
                clips.append(
                    CameraMove(
                        image,
                        seed=request.seed,
                        n_frames=end - start,
                        caption=prompt if self.captions else None,
                        **size,
                    )
                )
            else:
                clips.append(
                    TextScene(
                        prompt,
                        seed=request.seed,
                        variant=j,
                        fps=request.fps,
                        n_frames=end - start,
                        caption=self.captions,
                        **size,
                    )
                )
        return Timeline(clips, spans)

    def _restyle(self, request: GenerationRequest, ctx: RunContext) -> VideoRestyle:
        """The input video saved to the work directory (decoded from there frame by frame) and opened."""
        assert request.video is not None  # validate() checked it
        path = ctx.workdir / _INPUT_VIDEO
        path.write_bytes(ctx.read_input(request.video))
        try:
            return VideoRestyle(
                path,
                prompt=request.prompt or "",
                seed=request.seed,
                fps=request.fps,
                width=request.width,
                height=request.height,
                n_frames=request.num_frames,
                caption=self.captions,
            )
        except BaseException:
            path.unlink(missing_ok=True)
            raise


def keyframe_positions(request: GenerationRequest) -> list[int]:
    """The frame index of each keyframe image (see the module docstring), or an error naming the field."""
    total, images = request.num_frames, request.images
    given = [image.frame for image in images]
    if len(images) > 1 and not any(given):
        if total < len(images):
            raise invalid(
                f"{total} frames cannot hold {len(images)} keyframes; raise duration or fps, or send fewer images",
                "/duration",
            )
        return spread_positions(len(images), total)
    for k, frame in enumerate(given):
        if not 0 <= frame < total:
            raise invalid(
                f"image {k} is placed at frame {frame}, outside the video's frames 0..{total - 1} "
                f"({request.duration:g} s at {request.fps:g} fps)",
                f"/images/{k}/frame",
            )
        if k and frame <= given[k - 1]:
            raise invalid(
                f"image {k} is placed at frame {frame}, not after image {k - 1} at frame "
                f"{given[k - 1]}; keyframe positions must be strictly increasing",
                f"/images/{k}/frame",
            )
    return given

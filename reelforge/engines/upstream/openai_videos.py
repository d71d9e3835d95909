"""An OpenAI-style asynchronous `/v1/videos` service as a provider: OpenAI, Agnes-Video-V2.0, SGLang, reelforge.

Create `POST /v1/videos` (JSON, `Authorization: Bearer`), poll `GET /v1/videos/{id}`, download
`GET /v1/videos/{id}/content` (and `?variant=thumbnail`), cancel with `DELETE /v1/videos/{id}`.

The create always has OpenAI's fields: `model`, `prompt`, `seconds` (a string) and `size` ("WxH"). With
`extensions` (the default) it adds Agnes' fields, which OpenAI itself refuses: `frame_rate`,
`num_frames` (when the frame count follows Agnes' 8n+1 rule, at most 441; Agnes reads no `seconds`),
`seed`, `negative_prompt`, `num_inference_steps`, `image` (one URL or a list) and `mode: keyframes`.
Without it, one image goes as OpenAI's `input_reference: {image_url}`, and multi-image and keyframe
requests are refused at validation. The create is JSON: services that take only multipart/form-data
are not supported.

Agnes puts the finished video's URL in `video_url` (and `remixed_from_video_id`); when `/content`
answers with an error, that URL is used instead.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote

from reelforge.domain.errors import ErrorCode, ReelforgeError, invalid
from reelforge.domain.request import GenerationRequest, Kind
from reelforge.engines.base import RunContext
from reelforge.engines.upstream.client import UpstreamClient
from reelforge.engines.upstream.provider import (
    Downloaded,
    UpstreamStatus,
    image_reference,
    seconds_text,
    state_and_progress,
)
from reelforge.engines.upstream.settings import UpstreamSettings

log = logging.getLogger(__name__)

MAX_IMAGES = 16
AGNES_MAX_FRAMES = 441
BASIC_KINDS = frozenset({Kind.TEXT_TO_VIDEO, Kind.IMAGE_TO_VIDEO})
EXTENDED_KINDS = BASIC_KINDS | {Kind.MULTI_IMAGE, Kind.KEYFRAMES}
STATES = {
    "queued": "queued",
    "pending": "queued",
    "in_progress": "running",
    "processing": "running",
    "running": "running",
    "completed": "succeeded",
    "succeeded": "succeeded",
    "failed": "failed",
    "cancelled": "cancelled",
    "canceled": "cancelled",
}


class OpenAIVideosProvider:
    """One model of an OpenAI-compatible `/v1/videos` service."""

    def __init__(self, settings: UpstreamSettings) -> None:
        self.model = settings.model
        self.extensions = settings.extensions
        possible = EXTENDED_KINDS if settings.extensions else BASIC_KINDS
        if settings.kinds and not settings.kinds <= possible:
            raise ValueError(
                "upstream engine: an openai-videos provider does "
                f"{', '.join(sorted(k.value for k in possible))}"
                + ("" if settings.extensions else " without extensions")
                + "; 'kinds' asks for more"
            )
        self.kinds = settings.kinds or possible
        self.durations = settings.durations
        self.sizes = settings.sizes
        self.rules: dict[str, Any] = {"durations": self.durations, "sizes": self.sizes}

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    # ------------------------------------------------------------ validate + create

    def validate(self, request: GenerationRequest) -> None:
        if not request.prompt:
            raise invalid("prompt is required", "/prompt")
        if len(request.images) > MAX_IMAGES:
            raise invalid(f"the hosted provider takes at most {MAX_IMAGES} images", "/image")
        if request.kind == Kind.KEYFRAMES:
            # The provider spreads keyframes evenly over the video; other positions cannot be forwarded.
            count, last = len(request.images), request.num_frames - 1
            expected = [round(i * last / (count - 1)) for i in range(count)] if count > 1 else [0]
            if any(abs(image.frame - at) > 1 for image, at in zip(request.images, expected, strict=True)):
                raise invalid(
                    "the hosted provider places keyframes evenly over the video; these positions cannot be forwarded",
                    "/image",
                )

    def body(self, request: GenerationRequest, ctx: RunContext) -> dict[str, object]:
        """The create payload, the same bytes on every attempt (a retry must match the Idempotency-Key)."""
        body: dict[str, object] = {
            "model": self.model,
            "prompt": request.prompt,
            "seconds": seconds_text(request.duration),
            "size": f"{request.width}x{request.height}",
        }
        images = [image_reference(image.source, ctx) for image in request.images]
        if not self.extensions:
            if images:
                body["input_reference"] = {"image_url": images[0]}
            return body
        body["frame_rate"] = int(request.fps) if float(request.fps).is_integer() else request.fps
        if (request.num_frames - 1) % 8 == 0 and request.num_frames <= AGNES_MAX_FRAMES:
            body["num_frames"] = request.num_frames  # Agnes reads frames, not seconds; it takes only 8n+1
        body["seed"] = request.seed
        if request.negative_prompt:
            body["negative_prompt"] = request.negative_prompt
        if request.steps:
            body["num_inference_steps"] = request.steps
        if images:
            body["image"] = images[0] if len(images) == 1 else images
        if request.kind == Kind.KEYFRAMES:
            body["mode"] = "keyframes"
        return body

    def create(self, client: UpstreamClient, request: GenerationRequest, ctx: RunContext) -> str:
        answer = client.json(
            "POST",
            "/v1/videos",
            action="creating the video",
            json=self.body(request, ctx),
            headers={"Idempotency-Key": ctx.task_id},
        )
        video_id = answer.get("id") or answer.get("video_id") or answer.get("task_id")
        if not isinstance(video_id, str) or not video_id:
            raise ReelforgeError(ErrorCode.UPSTREAM_ERROR, "the hosted provider accepted the video but gave no id")
        return video_id

    # ------------------------------------------------------------ poll, cancel, result

    def status(self, client: UpstreamClient, upstream_id: str) -> UpstreamStatus:
        answer = self._video(client, upstream_id)
        state, progress = state_and_progress(answer, STATES, str.lower)
        raw = answer.get("error")
        error: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if state == "failed" and str(error.get("code", "")).lower() in ("cancelled", "canceled"):
            state = "cancelled"  # reelforge (and OpenAI) have no cancelled status: a failed one says so
        return UpstreamStatus(state, progress, error.get("code"), error.get("message"))

    def cancel(self, client: UpstreamClient, upstream_id: str) -> bool:
        response = client.request(
            "DELETE",
            f"/v1/videos/{quote(upstream_id, safe='')}",
            action="cancelling the video",
            retry=False,
            check=False,
        )
        return response.is_success

    def download(self, client: UpstreamClient, upstream_id: str, workdir: Path, max_bytes: int) -> Downloaded:
        content = client.api_url(f"/v1/videos/{quote(upstream_id, safe='')}/content")
        target = workdir / "upstream-video.mp4"
        try:
            video = client.download(content, target, action="downloading the video", max_bytes=max_bytes)
        except ReelforgeError as exc:
            if exc.code != ErrorCode.UPSTREAM_ERROR:
                raise
            answer = self._video(client, upstream_id)  # Agnes: the video's URL is in the video object
            url = next(
                (
                    value
                    for name in ("video_url", "remixed_from_video_id")
                    if isinstance(value := answer.get(name), str) and value.startswith(("http://", "https://"))
                ),
                None,
            )
            if url is None:
                raise
            video = client.download(url, target, action="downloading the video", max_bytes=max_bytes)
        thumbnail = None
        try:
            thumbnail = client.download(
                f"{content}?variant=thumbnail",
                workdir / "upstream-thumbnail",
                action="downloading the thumbnail",
                max_bytes=min(max_bytes, 32 * 1024**2),
            )
        except ReelforgeError as exc:  # many services have no thumbnail variant; the engine makes one
            log.info("hosted provider has no thumbnail (%s); making one from the video", exc.code)
        return Downloaded(video, thumbnail)

    def _video(self, client: UpstreamClient, upstream_id: str) -> dict[str, object]:
        return client.json("GET", f"/v1/videos/{quote(upstream_id, safe='')}", action="polling the video")

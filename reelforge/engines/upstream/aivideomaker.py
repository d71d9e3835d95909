"""The AIVideoMaker API v1 as a provider (`shared/specs/000_*.txt`, client workflow in 001).

Create `POST /api/v1/generate/{model}` with the contract's fields only (prompt, aspectRatio, duration as
a string, image, or the lv prompt list), poll `GET /api/v1/tasks/{id}/status`, read the finished task from
`GET /api/v1/tasks/{id}` (`output.videoUrl`, `output.thumbnailUrl`), cancel with
`PUT /api/v1/tasks/{id}/cancel` — which the contract allows only while the task is SUBMITTED; once the
provider is generating, the cancel is refused and the provider finishes (and charges) on its side.

The five contract models carry their rules (kind, durations, aspect ratios); another model name needs
`kinds` (one of text_to_video, image_to_video, long_video: the payload's shape follows it) and may set
`durations`.
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
    nearest_aspect,
    state_and_progress,
)
from reelforge.engines.upstream.settings import UpstreamSettings

log = logging.getLogger(__name__)

ASPECTS = ("16:9", "9:16", "1:1")
MAX_PROMPT_CHARS = 2000
MAX_SEGMENTS = 6
MODELS: dict[str, tuple[Kind, tuple[float, ...]]] = {
    "t2v": (Kind.TEXT_TO_VIDEO, (5, 8)),
    "i2v": (Kind.IMAGE_TO_VIDEO, (5, 8)),
    "lv": (Kind.LONG_VIDEO, ()),
    "t2v_v3": (Kind.TEXT_TO_VIDEO, (5, 10, 15, 20)),
    "i2v_v3": (Kind.IMAGE_TO_VIDEO, (5, 10, 15, 20)),
}
SHAPES = frozenset({Kind.TEXT_TO_VIDEO, Kind.IMAGE_TO_VIDEO, Kind.LONG_VIDEO})
STATES = {
    "SUBMITTED": "queued",
    "PROGRESS": "running",
    "COMPLETED": "succeeded",
    "FAILED": "failed",
    "CANCEL": "cancelled",
    "CANCELLED": "cancelled",
}


class AIVideoMakerProvider:
    """One AIVideoMaker model (t2v, i2v, lv, t2v_v3, i2v_v3, or another name with its `kinds`)."""

    def __init__(self, settings: UpstreamSettings) -> None:
        self.model = settings.model
        known = MODELS.get(settings.model)
        if known is not None:
            kind, durations = known
            if settings.kinds and settings.kinds != {kind}:
                raise ValueError(
                    f"upstream engine: AIVideoMaker model {settings.model} makes {kind.value}; "
                    "'kinds' cannot change that"
                )
        else:
            if len(settings.kinds) != 1 or not settings.kinds <= SHAPES:
                raise ValueError(
                    f"upstream engine: AIVideoMaker model {settings.model!r} is not one of "
                    f"{', '.join(MODELS)}; set 'kinds' to exactly one of text_to_video, "
                    "image_to_video, long_video (the payload's shape follows it)"
                )
            (kind,), durations = tuple(settings.kinds), ()
        self.kind = kind
        self.kinds = frozenset({kind})
        self.durations = settings.durations or durations
        # A long video is priced per segment and takes no duration; the others take whole seconds from a list.
        self.rules: dict[str, Any] = (
            {} if kind == Kind.LONG_VIDEO else {"durations": self.durations, "whole_seconds": True}
        )

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"key": key}

    # ------------------------------------------------------------ validate + create

    def validate(self, request: GenerationRequest) -> None:
        if self.kind == Kind.LONG_VIDEO:
            if not 1 <= len(request.prompts) <= MAX_SEGMENTS:
                raise invalid(f"a long video takes 1 to {MAX_SEGMENTS} segment prompts", "/prompt")
            for index, prompt in enumerate(request.prompts):
                if len(prompt) > MAX_PROMPT_CHARS:
                    raise invalid(f"segment prompt is longer than {MAX_PROMPT_CHARS} characters", f"/prompt/{index}")
        else:
            if request.prompt and len(request.prompt) > MAX_PROMPT_CHARS:
                raise invalid(f"prompt is longer than {MAX_PROMPT_CHARS} characters", "/prompt")
        if self.kind == Kind.TEXT_TO_VIDEO:
            if not request.prompt:
                raise invalid("prompt is required", "/prompt")
            nearest_aspect(request.width, request.height, ASPECTS)
        elif len(request.images) != 1:
            raise invalid("the hosted provider takes exactly one image for this model", "/image")

    def body(self, request: GenerationRequest, ctx: RunContext) -> dict[str, object]:
        """The create payload: the contract's fields only, the same bytes on every attempt."""
        if self.kind == Kind.TEXT_TO_VIDEO:
            return {
                "prompt": request.prompt,
                "aspectRatio": nearest_aspect(request.width, request.height, ASPECTS),
                "duration": str(round(request.duration)),
            }
        image = image_reference(request.images[0].source, ctx)
        if self.kind == Kind.LONG_VIDEO:
            return {"image": image, "prompt": list(request.prompts)}
        body: dict[str, object] = {"image": image, "duration": str(round(request.duration))}
        if request.prompt:
            body["prompt"] = request.prompt
        return body

    def create(self, client: UpstreamClient, request: GenerationRequest, ctx: RunContext) -> str:
        answer = client.json(
            "POST",
            f"/api/v1/generate/{quote(self.model, safe='')}",
            action="creating the task",
            json=self.body(request, ctx),
            headers={"Idempotency-Key": ctx.task_id},
        )
        task_id = answer.get("taskId")
        if not isinstance(task_id, str) or not task_id:
            raise ReelforgeError(ErrorCode.UPSTREAM_ERROR, "the hosted provider accepted the task but gave no taskId")
        return task_id

    # ------------------------------------------------------------ poll, cancel, result

    def status(self, client: UpstreamClient, upstream_id: str) -> UpstreamStatus:
        answer = client.json("GET", f"/api/v1/tasks/{quote(upstream_id, safe='')}/status", action="polling the task")
        state, progress = state_and_progress(answer, STATES, str.upper)
        if state != "failed":
            return UpstreamStatus(state, progress)
        details = self._details(client, upstream_id)  # the status answer carries no reason; the details may
        raw = details.get("error")
        error: dict[str, Any] = raw if isinstance(raw, dict) else {}
        message = error.get("message") or details.get("message")
        return UpstreamStatus(state, progress, error.get("code"), None if message is None else str(message))

    def cancel(self, client: UpstreamClient, upstream_id: str) -> bool:
        response = client.request(
            "PUT",
            f"/api/v1/tasks/{quote(upstream_id, safe='')}/cancel",
            action="cancelling the task",
            retry=False,
            check=False,
        )
        return response.is_success

    def download(self, client: UpstreamClient, upstream_id: str, workdir: Path, max_bytes: int) -> Downloaded:
        output = self._details(client, upstream_id).get("output")
        video_url = (
            _url(output, "videoUrl", "video_url", "url")
            if isinstance(output, dict)
            else (output if isinstance(output, str) else None)
        )
        if not video_url:
            raise ReelforgeError(ErrorCode.UPSTREAM_ERROR, "the hosted provider finished the task without a video URL")
        video = client.download(
            video_url, workdir / "upstream-video.mp4", action="downloading the video", max_bytes=max_bytes
        )
        thumbnail = None
        thumb_url = _url(output, "thumbnailUrl", "thumbnail_url", "coverUrl") if isinstance(output, dict) else None
        if thumb_url:
            try:
                thumbnail = client.download(
                    thumb_url,
                    workdir / "upstream-thumbnail",
                    action="downloading the thumbnail",
                    max_bytes=min(max_bytes, 32 * 1024**2),
                )
            except ReelforgeError as exc:  # a thumbnail is not worth failing a finished video for
                log.warning("hosted provider thumbnail not fetched (%s); making one from the video", exc.code)
        return Downloaded(video, thumbnail)

    def _details(self, client: UpstreamClient, upstream_id: str) -> dict[str, object]:
        return client.json("GET", f"/api/v1/tasks/{quote(upstream_id, safe='')}", action="reading the task")


def _url(output: dict, *names: str) -> str | None:
    for name in names:
        value = output.get(name)
        if isinstance(value, str) and value:
            return value
    return None

"""AIVideoMaker v1 to and from the task core: a create body to a `Submission`, a `Task` to the contract's body.

`build_submission` is the create path's `build` step. It validates the whole body first (types, the
model's durations and aspect ratios, the lv prompts: all pure), and only then hands the image to the
upload session, which checks a URL or decodes and stores a data URI. What can still refuse the create
after that (the engine's own check, 402, 409) is the task service's, and the session deletes the stored
image then (`reelforge/edge/create.py`).
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from reelforge.api.dialects.aivideomaker.protocol import (
    ImageToVideoBody,
    LongVideoBody,
    Rules,
    TextToVideoBody,
)
from reelforge.api.errors import validation_error
from reelforge.domain.catalog import ModelSpec
from reelforge.domain.errors import ErrorCode, ReelforgeError, invalid
from reelforge.domain.formats import nearest_aspect, size_for_aspect
from reelforge.domain.request import GenerationRequest, ImageInput, Kind
from reelforge.domain.task import Task, TaskStatus
from reelforge.edge.links import Links, expired_message
from reelforge.edge.uploads import UploadSession, elide_data_uri
from reelforge.tasks.service import Submission

DIALECT = "aivideomaker"
DEFAULT_ASPECT = "16:9"
ECHOED_FIELDS = ("prompt", "aspectRatio", "duration", "image", "seed")
"""What `input` echoes back: the contract's fields (and `seed`), never arbitrary extra payload."""

BODIES: dict[Kind, type[TextToVideoBody | ImageToVideoBody | LongVideoBody]] = {
    Kind.TEXT_TO_VIDEO: TextToVideoBody,
    Kind.IMAGE_TO_VIDEO: ImageToVideoBody,
    Kind.LONG_VIDEO: LongVideoBody,
}
"""The body of each model kind this API serves; any other kind is INVALID_MODEL here."""

STATUS_NAMES = {
    TaskStatus.QUEUED: "SUBMITTED",
    TaskStatus.RUNNING: "PROGRESS",
    TaskStatus.SUCCEEDED: "COMPLETED",
    TaskStatus.FAILED: "FAILED",
    TaskStatus.CANCELLED: "CANCEL",
}


# ------------------------------------------------------------------ create


def parse_body(payload: Any, spec: ModelSpec) -> TextToVideoBody | ImageToVideoBody | LongVideoBody:
    """Validate `payload` as the body of model `spec` (pure: nothing is fetched or stored)."""
    body_model = BODIES.get(spec.kind)
    if body_model is None:
        raise ReelforgeError(ErrorCode.INVALID_MODEL, f"model {spec.name} ({spec.kind}) is not served by this API")
    if not isinstance(payload, dict):
        raise invalid("the request body must be a JSON object")
    try:
        return body_model.model_validate(payload, context={"rules": Rules.of(spec)})
    except ValidationError as exc:  # the first bad field, with its JSON pointer, as every route reports it
        raise validation_error(RequestValidationError(exc.errors())) from None


def build_submission(
    payload: Any, spec: ModelSpec, session: UploadSession, webhook_url: str | None = None
) -> Submission:
    """The create path's `build`: validate everything, then store the image (if any) through `session`."""
    body = parse_body(payload, spec)
    seed = body.seed if body.seed is not None else secrets.randbelow(2**31)
    common: dict[str, Any] = {"kind": spec.kind, "fps": spec.fps, "seed": seed}
    if isinstance(body, TextToVideoBody):
        width, height = size_for_aspect(body.aspect_ratio, spec.height)
        request = GenerationRequest(prompt=body.prompt, width=width, height=height, duration=body.duration, **common)
    else:
        image = session.accept_image(body.image, "/image")  # the last check; a data URI is stored here
        aspect = body.aspect_ratio
        if aspect is None:
            choices = Rules.of(spec).aspect_ratios
            aspect = nearest_aspect(image.size, list(choices)) if image.size else DEFAULT_ASPECT
        width, height = size_for_aspect(aspect, spec.height)
        images = [ImageInput(source=image.source)]
        if isinstance(body, ImageToVideoBody):
            request = GenerationRequest(
                prompt=body.prompt, images=images, width=width, height=height, duration=body.duration, **common
            )
        else:
            request = GenerationRequest(
                prompts=list(body.prompt),
                images=images,
                width=width,
                height=height,
                duration=spec.segment_seconds * len(body.prompt),
                **common,
            )
    return Submission(
        model=spec.name,
        request=request,
        input=echoed_input(payload),
        dialect=DIALECT,
        webhook_url=webhook_url or None,
    )


def echoed_input(payload: dict[str, Any]) -> dict[str, Any]:
    """The task's `input`: the contract fields as sent, data URIs shortened to their header and size."""
    return {k: elide_data_uri(v) for k, v in payload.items() if k in ECHOED_FIELDS}


def contract_input(task: Task) -> dict[str, Any]:
    """`input` as an AIVideoMaker client reads it, for any task of the key.

    The contract lists "all tasks under the current API key"; one created through another API (an AVS
    template, an OpenAI-style create) has an `input` of another shape, so it is shown in this contract's
    fields instead, read from the canonical request: `prompt` (a string, or the list of segment prompts),
    `aspectRatio` when the frame is one of the contract's, `duration` (whole seconds, as a string), `image`
    when the first image is a URL, `seed`. `createdVia` says which API made it.
    """
    if task.dialect == DIALECT:
        return task.input
    request = task.request
    view: dict[str, Any] = {}
    if request.prompt:
        view["prompt"] = request.prompt
    elif request.prompts:
        view["prompt"] = list(request.prompts)
    aspect = nearest_aspect((request.width, request.height), list(Rules().aspect_ratios))
    across, down = (int(part) for part in aspect.split(":"))
    if abs(request.width * down - request.height * across) <= max(across, down) * 2:
        view["aspectRatio"] = aspect
    view["duration"] = str(round(request.duration))
    if request.images and request.images[0].source.startswith(("http://", "https://")):
        view["image"] = request.images[0].source
    view["seed"] = request.seed
    return view


# ----------------------------------------------------------------- answers


def render_task(task: Task, links: Links) -> dict[str, Any]:
    """A task as the contract shows it (details, list entries, webhook bodies)."""
    output = None
    if task.output is not None:
        output = {
            "videoUrl": links.video_url(task),
            "thumbnailUrl": links.thumbnail_url(task),
            "duration": task.output.duration,
            "width": task.output.width,
            "height": task.output.height,
            "fps": task.output.fps,
            "expiresAt": iso_ms(links.link_expiry(task)),  # addition: when videoUrl and thumbnailUrl stop working
        }
        if links.expired(task):  # addition: the files are gone; the message says when and what to do
            output.update(expired=True, message=expired_message(task))
    body: dict[str, Any] = {
        "id": task.id,
        "createdAt": iso_ms(task.created_at),
        "model": task.model,
        "input": contract_input(task),
        "output": output,
        "status": STATUS_NAMES[task.status],
        "progress": task.progress,
        "completedAt": iso_ms(task.completed_at),
    }
    if task.error_code:
        body["error"] = {"code": task.error_code, "message": task.error_message}
    body["createdVia"] = task.dialect  # addition: which API made it (its `input` shown in this contract's fields)
    if task.timings:  # addition: where the finished task's seconds went (docs/gpu.md, "Stage timings")
        body["timings"] = task.timings
    return body


def iso_ms(value: Any) -> str | None:
    """`2026-03-19T08:00:00.000Z`, the contract's timestamp format."""
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def render_error(exc: ReelforgeError) -> dict[str, Any]:
    """`{status: "FAILED", message}` as the contract shows, plus `code`, and `field` for payload errors."""
    body: dict[str, Any] = {"status": "FAILED", "message": exc.message, "code": exc.code.value}
    if exc.field:
        body["field"] = exc.field
    return body

"""The AIVideoMaker API v1 (`shared/specs/000_*.txt`): `/api/v1/generate/{model}` and `/api/v1/tasks/...`.

Contract points kept exactly: the `key` header; per-model fields and allowed values; credit costs; the
create answer `{status: "SUBMITTED", taskId, responseUrl, statusUrl, cancelUrl}`; errors as
`{status: "FAILED", message}` (plus a stable `code`, and `field` for payload errors); statuses SUBMITTED,
PROGRESS, COMPLETED, FAILED, CANCEL; cancel only while SUBMITTED (409 otherwise); 60 queries per minute per
IP with 429 + Retry-After. Additions that leave the contract intact: an optional `seed` (reproducible
output), an optional `aspectRatio` for i2v/lv, and `progress` and `error` in task bodies.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from reelforge.accounts.keys import ApiKey
from reelforge.api.auth import require_key
from reelforge.api.deps import query_limit
from reelforge.api.dialect import Dialect, dialect_router
from reelforge.api.idempotency import idempotency_of
from reelforge.api.links import links_for
from reelforge.domain.catalog import ModelSpec
from reelforge.domain.errors import ErrorCode, ReelforgeError, invalid
from reelforge.domain.formats import nearest_aspect, size_for_aspect
from reelforge.domain.request import STORED_PREFIX, GenerationRequest, ImageInput, Kind
from reelforge.domain.task import Task, TaskStatus
from reelforge.edge.links import Links, expired_message
from reelforge.edge.uploads import StoredImage, accept_image, elide_data_uri
from reelforge.media.fetch import check_url
from reelforge.services import Services
from reelforge.tasks.service import Submission

DIALECT = "aivideomaker"
PREFIX = "/api/v1"
DEFAULT_ASPECT = "16:9"
MAX_PROMPT_CHARS = 2000
MAX_LIST = 1000
ECHOED_FIELDS = ("prompt", "aspectRatio", "duration", "image", "seed")
"""What `input` echoes back: the contract's fields (and `seed`), never arbitrary extra payload."""

STATUS_NAMES = {
    TaskStatus.QUEUED: "SUBMITTED",
    TaskStatus.RUNNING: "PROGRESS",
    TaskStatus.SUCCEEDED: "COMPLETED",
    TaskStatus.FAILED: "FAILED",
    TaskStatus.CANCELLED: "CANCEL",
}


def render_error(exc: ReelforgeError) -> dict[str, Any]:
    body: dict[str, Any] = {"status": "FAILED", "message": exc.message, "code": exc.code.value}
    if exc.field:
        body["field"] = exc.field
    return body


# ------------------------------------------------------------------ parsing


def _prompt(payload: dict[str, Any], *, required: bool) -> str | None:
    value = payload.get("prompt")
    if not required and (value is None or (isinstance(value, str) and not value.strip())):
        return None
    if not isinstance(value, str) or not value.strip():
        if required:
            raise invalid("prompt is required: a text describing the video", "/prompt")
        raise invalid("prompt must be a string or null", "/prompt")
    if len(value) > MAX_PROMPT_CHARS:
        raise invalid(f"prompt is longer than {MAX_PROMPT_CHARS} characters", "/prompt")
    return value.strip()


def _duration(payload: dict[str, Any], spec: ModelSpec) -> int:
    allowed = " / ".join(str(d) for d in spec.durations)
    value = payload.get("duration")
    if value is None:
        raise invalid(f"duration is required: one of {allowed} (seconds, as a string)", "/duration")
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or int(text) not in spec.durations:
        raise invalid(f"duration must be one of {allowed} for model {spec.name}, got {value!r}", "/duration")
    return int(text)


def _aspect(payload: dict[str, Any], spec: ModelSpec, *, required: bool, image: StoredImage | None) -> str:
    choices = spec.aspect_ratios or ["16:9", "9:16", "1:1"]
    value = payload.get("aspectRatio")
    if value is None:
        if required:
            raise invalid(f"aspectRatio is required: one of {' / '.join(choices)}", "/aspectRatio")
        return nearest_aspect(image.size, choices) if image and image.size else DEFAULT_ASPECT
    if value not in choices:
        raise invalid(f"aspectRatio must be one of {' / '.join(choices)}, got {value!r}", "/aspectRatio")
    return value


def _seed(payload: dict[str, Any]) -> int:
    value = payload.get("seed")
    if value is None:
        return secrets.randbelow(2**31)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise invalid("seed must be a non-negative integer", "/seed")
    return value


def _prompts(payload: dict[str, Any], spec: ModelSpec) -> list[str]:
    value = payload.get("prompt")
    if not isinstance(value, list) or not value:
        raise invalid(f"prompt must be an array of 1 to {spec.max_prompts} segment prompts", "/prompt")
    if len(value) > spec.max_prompts:
        raise invalid(f"prompt has {len(value)} items; at most {spec.max_prompts} are allowed", "/prompt")
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise invalid("each segment prompt must be a non-empty string", f"/prompt/{index}")
        if len(item) > MAX_PROMPT_CHARS:
            raise invalid(f"segment prompt is longer than {MAX_PROMPT_CHARS} characters", f"/prompt/{index}")
    return [item.strip() for item in value]


def parse_generation(payload: Any, spec: ModelSpec, services: Services) -> tuple[GenerationRequest, dict]:
    """Validate one create payload for `spec` and map it to a `GenerationRequest` (plus the echoed input)."""
    if not isinstance(payload, dict):
        raise invalid("the request body must be a JSON object")
    seed = _seed(payload)
    echoed = {k: elide_data_uri(v) for k, v in payload.items() if k in ECHOED_FIELDS}
    common = {"fps": spec.fps, "seed": seed}
    if spec.kind == Kind.TEXT_TO_VIDEO:
        prompt = _prompt(payload, required=True)
        aspect = _aspect(payload, spec, required=True, image=None)
        duration = _duration(payload, spec)
        width, height = size_for_aspect(aspect, spec.height)
        request = GenerationRequest(
            kind=spec.kind, prompt=prompt, width=width, height=height, duration=duration, **common
        )
        return request, echoed
    if "image" not in payload or payload["image"] in (None, ""):
        raise invalid("image is required: an https image URL or data:image/...;base64,...", "/image")
    if spec.kind == Kind.IMAGE_TO_VIDEO:
        prompt = _prompt(payload, required=False)
        duration = _duration(payload, spec)
        image = accept_image(payload["image"], "/image", services.settings, services.storage)
        aspect = _aspect(payload, spec, required=False, image=image)
        width, height = size_for_aspect(aspect, spec.height)
        request = GenerationRequest(
            kind=spec.kind,
            prompt=prompt,
            images=[ImageInput(source=image.source)],
            width=width,
            height=height,
            duration=duration,
            **common,
        )
        return request, echoed
    if spec.kind == Kind.LONG_VIDEO:
        prompts = _prompts(payload, spec)
        image = accept_image(payload["image"], "/image", services.settings, services.storage)
        aspect = _aspect(payload, spec, required=False, image=image)
        width, height = size_for_aspect(aspect, spec.height)
        request = GenerationRequest(
            kind=spec.kind,
            prompts=prompts,
            images=[ImageInput(source=image.source)],
            width=width,
            height=height,
            duration=spec.segment_seconds * len(prompts),
            **common,
        )
        return request, echoed
    raise ReelforgeError(ErrorCode.INVALID_MODEL, f"model {spec.name} ({spec.kind}) is not served by this API")


# ---------------------------------------------------------------- rendering


def render_task(task: Task, links: Links) -> dict[str, Any]:
    output = None
    if task.output is not None:
        output = {
            "videoUrl": links.video_url(task),
            "thumbnailUrl": links.thumbnail_url(task),
            "duration": task.output.duration,
            "width": task.output.width,
            "height": task.output.height,
            "fps": task.output.fps,
            "expiresAt": iso_ms(task.expires_at),  # addition: when the files are deleted (null: kept)
        }
        if links.expired(task):  # addition: the files are gone; the message says when and what to do
            output.update(expired=True, message=expired_message(task))
    body: dict[str, Any] = {
        "id": task.id,
        "createdAt": iso_ms(task.created_at),
        "model": task.model,
        "input": task.input,
        "output": output,
        "status": STATUS_NAMES[task.status],
        "progress": task.progress,
        "completedAt": iso_ms(task.completed_at),
    }
    if task.error_code:
        body["error"] = {"code": task.error_code, "message": task.error_message}
    return body


def iso_ms(value: Any) -> str | None:
    """`2026-03-19T08:00:00.000Z`, the contract's timestamp format."""
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


# ------------------------------------------------------------------- routes


def build_router() -> APIRouter:
    router = dialect_router(render_error, prefix=PREFIX, tags=["AIVideoMaker v1"])

    @router.post("/generate/{model}", summary="Create a generation task")
    async def create(model: str, request: Request, key: ApiKey = Depends(require_key)) -> JSONResponse:
        services: Services = request.app.state.services
        spec = services.tasks.model(model)
        try:
            payload = await request.json()
        except ValueError:
            raise invalid("the request body must be valid JSON") from None
        webhook_url = request.headers.get("webhookUrl")
        if webhook_url:
            try:  # resolves the host: off the event loop
                await asyncio.to_thread(
                    check_url,
                    webhook_url,
                    allow_private=services.settings.allow_private_urls,
                    purpose="webhookUrl header",
                )
            except ReelforgeError as exc:
                exc.field = "webhookUrl"
                raise
        idempotency = idempotency_of(request, DIALECT, spec.name, payload, webhook_url)
        idempotency_key, request_hash = idempotency.key, idempotency.digest
        generation, echoed = await asyncio.to_thread(parse_generation, payload, spec, services)
        submission = Submission(
            model=spec.name,
            request=generation,
            input=echoed,
            dialect=DIALECT,
            webhook_url=webhook_url or None,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
        )
        task = None
        try:
            task = await asyncio.to_thread(services.tasks.submit, key.id, submission)
        finally:
            kept = set() if task is None else {image.source for image in task.request.images}
            for image in generation.images:  # nothing half-written: drop uploads no task uses
                if image.source.startswith(STORED_PREFIX) and image.source not in kept:
                    services.storage.delete(image.source.removeprefix(STORED_PREFIX))
        request.app.state.executor.dispatch(task)
        links = links_for(request)
        return JSONResponse(
            {
                "status": "SUBMITTED",
                "taskId": task.id,
                "responseUrl": links.url(f"{PREFIX}/tasks/{task.id}"),
                "statusUrl": links.url(f"{PREFIX}/tasks/{task.id}/status"),
                "cancelUrl": links.url(f"{PREFIX}/tasks/{task.id}/cancel"),
            }
        )

    @router.get("/tasks", summary="List your tasks, newest first", dependencies=[Depends(query_limit)])
    async def list_tasks(
        request: Request, limit: int = MAX_LIST, offset: int = 0, key: ApiKey = Depends(require_key)
    ) -> dict[str, Any]:
        if not 1 <= limit <= MAX_LIST or offset < 0:
            raise invalid(f"limit must be 1-{MAX_LIST} and offset >= 0", "/limit")
        services: Services = request.app.state.services
        links = links_for(request)
        return {"tasks": [render_task(t, links) for t in services.tasks.recent(key.id, limit=limit, offset=offset)]}

    @router.get("/tasks/{task_id}", summary="Task details", dependencies=[Depends(query_limit)])
    async def details(task_id: str, request: Request, key: ApiKey = Depends(require_key)) -> dict[str, Any]:
        task = request.app.state.services.tasks.get(task_id, key.id)
        return render_task(task, links_for(request))

    @router.get("/tasks/{task_id}/status", summary="Task status (for polling)", dependencies=[Depends(query_limit)])
    async def status(task_id: str, request: Request, key: ApiKey = Depends(require_key)) -> dict[str, Any]:
        status, progress = request.app.state.services.tasks.status_of(task_id, key.id)
        return {"status": STATUS_NAMES[status], "progress": progress}

    @router.put("/tasks/{task_id}/cancel", summary="Cancel a task that is still SUBMITTED")
    async def cancel(task_id: str, request: Request, key: ApiKey = Depends(require_key)) -> dict[str, Any]:
        task = await asyncio.to_thread(request.app.state.services.tasks.cancel, task_id, key.id)
        request.app.state.executor.cancel(task_id)
        return {"status": STATUS_NAMES[task.status], "taskId": task.id}

    return router


AIVIDEOMAKER_DIALECT = Dialect(DIALECT, (build_router(),), render_error, render_task, prefixes=(PREFIX,))

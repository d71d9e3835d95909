"""The actions API and scenes of the Modkie video CLI contract (`shared/specs/004_*.txt`).

`GET /api/actions`, `GET /api/actions/{name}/schema` (JSON Schema from the same pydantic models that
parse the input), `POST /api/actions/ai.video.generate`, `ai.video.query` and
`ai.video.generate_and_wait` (blocks up to `timeoutMs`, then answers with the still-running task, not an
error). Scenes map to catalog models (text-to-video: t2v, image-to-video: i2v, video-to-video: v2v,
ad-video: ad-video), overridable with `model`; the only `provider` here is `reelforge`.
Answers: `{taskId, status, videoUrl, url, provider, model}` (+ `progress`, `error`).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any, Literal

from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reelforge.accounts.keys import ApiKey
from reelforge.api.auth import require_key
from reelforge.api.dialect import Dialect, dialect_router, generic_body
from reelforge.api.links import links_for
from reelforge.domain.errors import ErrorCode, ReelforgeError, invalid
from reelforge.domain.formats import output_format, size_for_aspect
from reelforge.domain.request import Asset, GenerationRequest, ImageInput, Kind
from reelforge.domain.task import Task, TaskStatus
from reelforge.edge.links import Links, expired_message
from reelforge.edge.uploads import accept_image
from reelforge.media.fetch import check_url
from reelforge.services import Services
from reelforge.tasks.service import Submission

DIALECT = "actions"
PROVIDER = "reelforge"
SCENE_MODELS = {"text-to-video": "t2v", "image-to-video": "i2v", "video-to-video": "v2v", "ad-video": "ad-video"}
STATUS_NAMES = {
    TaskStatus.QUEUED: "queued",
    TaskStatus.RUNNING: "running",
    TaskStatus.SUCCEEDED: "success",
    TaskStatus.FAILED: "failed",
    TaskStatus.CANCELLED: "cancelled",
}
MAX_WAIT_MS = 3_600_000


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    aspectRatio: Literal["16:9", "9:16", "1:1"] = "16:9"
    duration: int | None = Field(None, ge=1, le=60, description="Seconds (the model's allowed values apply)")
    seed: int | None = Field(None, ge=0)


class GenerateInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=4000)
    scene: Literal["text-to-video", "image-to-video", "video-to-video", "ad-video"] = "text-to-video"
    provider: Literal["reelforge"] | None = None
    model: str | None = Field(None, description="A catalog model instead of the scene's default")
    imageInput: str | list[str] | None = None
    videoInput: str | list[str] | None = None
    options: Options = Field(default_factory=Options)
    workspaceId: str | None = None


class GenerateAndWaitInput(GenerateInput):
    timeoutMs: int = Field(600_000, ge=0, le=MAX_WAIT_MS)


class QueryInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    taskId: str


class TaskAnswer(BaseModel):
    taskId: str
    status: Literal["queued", "running", "success", "failed", "cancelled"]
    videoUrl: str | None = None
    url: str | None = None
    provider: str
    model: str
    progress: int
    error: dict[str, Any] | None = None


ACTIONS: dict[str, tuple[type[BaseModel], str]] = {
    "ai.video.generate": (GenerateInput, "Create a video task; answers at once with its taskId"),
    "ai.video.query": (QueryInput, "A task's status and, once done, its video URL"),
    "ai.video.generate_and_wait": (
        GenerateAndWaitInput,
        "Create and wait up to timeoutMs; answers with the task as it then is",
    ),
}


def _parse(model: type[BaseModel], body: Any) -> Any:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        pointer = "/" + "/".join(str(p) for p in first["loc"])
        raise invalid(f"{pointer}: {first['msg']}", pointer) from None


def _list(value: str | list[str] | None) -> list[str]:
    """A list as given, or a comma-separated string (the CLI's form) — except one data URI, which has a comma."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value] if value.startswith("data:") else [v.strip() for v in value.split(",") if v.strip()]


def build_request(data: GenerateInput, services: Services) -> tuple[str, GenerationRequest]:
    model = data.model or SCENE_MODELS[data.scene]
    spec = services.tasks.model(model)
    images, videos = _list(data.imageInput), _list(data.videoInput)
    seed = data.options.seed if data.options.seed is not None else secrets.randbelow(2**31)
    aspect = data.options.aspectRatio
    if spec.kind == Kind.COMPOSE:  # ad-video: the images in motion under the prompt's copy
        if not images:
            raise invalid("ad-video needs at least one product image in imageInput", "/imageInput")
        for index, url in enumerate(images):
            check_url(url, allow_private=services.settings.allow_private_urls, purpose=f"/imageInput/{index}")
        fmt = output_format(aspect, "draft")
        return model, GenerationRequest(
            kind=Kind.COMPOSE,
            prompt=data.prompt,
            width=fmt.width,
            height=fmt.height,
            fps=fmt.fps,
            duration=data.options.duration or 10,
            seed=seed,
            assets=[Asset(source=url, type="image", name=f"image-{i}") for i, url in enumerate(images)],
            extra={"aspectRatio": aspect, "quality": "draft", "mode": "ad-video"},
        )
    duration = data.options.duration or (spec.durations[0] if spec.durations else 5)
    if spec.durations and duration not in spec.durations:
        raise invalid(f"options.duration must be one of {spec.durations} for {model}", "/options/duration")
    width, height = size_for_aspect(aspect, spec.height)
    common = {
        "prompt": data.prompt,
        "width": width,
        "height": height,
        "fps": spec.fps,
        "duration": duration,
        "seed": seed,
    }
    if spec.kind == Kind.VIDEO_TO_VIDEO:
        if not videos:
            raise invalid("video-to-video needs a videoInput URL", "/videoInput")
        check_url(videos[0], allow_private=services.settings.allow_private_urls, purpose="/videoInput/0")
        return model, GenerationRequest(kind=spec.kind, video=videos[0], **common)
    if spec.kind == Kind.IMAGE_TO_VIDEO:
        if not images:
            raise invalid("image-to-video needs an imageInput (URL or data URI)", "/imageInput")
        image = accept_image(images[0], "/imageInput/0", services.settings, services.storage)
        return model, GenerationRequest(kind=spec.kind, images=[ImageInput(source=image.source)], **common)
    return model, GenerationRequest(kind=Kind.TEXT_TO_VIDEO, **common)


def render_answer(task: Task, links: Links) -> dict[str, Any]:
    url = links.video_url(task)
    error = {"code": task.error_code, "message": task.error_message} if task.error_code else None
    if links.expired(task):  # no videoUrl any more: say why
        error = {"code": ErrorCode.OUTPUT_EXPIRED.value, "message": expired_message(task)}
    return TaskAnswer(
        taskId=task.id,
        status=STATUS_NAMES[task.status],
        videoUrl=url,
        url=url,
        provider=PROVIDER,
        model=task.model,
        progress=task.progress,
        error=error,
    ).model_dump()


router = dialect_router(generic_body, prefix="/api/actions", tags=["actions API"])


@router.get("", summary="The actions this server offers")
async def list_actions(request: Request) -> dict[str, Any]:
    return {
        "actions": [
            {"name": name, "description": text, "schemaUrl": f"/api/actions/{name}/schema"}
            for name, (_, text) in ACTIONS.items()
        ]
    }


@router.get("/{name}/schema", summary="An action's input and output JSON Schema")
async def action_schema(name: str) -> dict[str, Any]:
    if name not in ACTIONS:
        raise ReelforgeError(ErrorCode.NOT_FOUND, f"no action {name!r}; see GET /api/actions")
    model, text = ACTIONS[name]
    return {
        "name": name,
        "description": text,
        "input": model.model_json_schema(),
        "output": TaskAnswer.model_json_schema(),
    }


async def _submit(request: Request, key: ApiKey, data: GenerateInput) -> Task:
    services: Services = request.app.state.services
    model, generation = await asyncio.to_thread(build_request, data, services)
    task = await asyncio.to_thread(
        services.tasks.submit,
        key.id,
        Submission(model=model, request=generation, input=data.model_dump(exclude_none=True), dialect=DIALECT),
    )
    request.app.state.executor.dispatch(task)
    return task


@router.post("/{name}", summary="Run an action")
async def run_action(name: str, request: Request, key: ApiKey = Depends(require_key)) -> dict[str, Any]:
    if name not in ACTIONS:
        raise ReelforgeError(ErrorCode.NOT_FOUND, f"no action {name!r}; see GET /api/actions")
    try:
        body = await request.json()
    except ValueError:
        raise invalid("the request body must be JSON") from None
    services: Services = request.app.state.services
    data = _parse(ACTIONS[name][0], body)
    if name == "ai.video.query":
        return render_answer(services.tasks.get(data.taskId, key.id), links_for(request))
    task = await _submit(request, key, data)
    if name == "ai.video.generate_and_wait":
        deadline = time.monotonic() + data.timeoutMs / 1000
        while not task.status.is_terminal and time.monotonic() < deadline:
            await asyncio.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
            task = await asyncio.to_thread(services.tasks.get, task.id, key.id)
    return render_answer(task, links_for(request))


ACTIONS_DIALECT = Dialect(DIALECT, (router,), generic_body, render_answer, prefixes=("/api/actions",))

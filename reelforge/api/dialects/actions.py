"""The actions API and scenes of the Modkie video CLI contract (`shared/specs/004_*.txt`).

`GET /api/actions`, `GET /api/actions/{name}/schema` (JSON Schema from the same pydantic models that
parse the input), `POST /api/actions/ai.video.generate`, `ai.video.query` and
`ai.video.generate_and_wait` (blocks up to `timeoutMs`, then answers with the still-running task, not an
error). Scenes map to catalog models (text-to-video: t2v, image-to-video: i2v, video-to-video: v2v,
ad-video: ad-video), overridable with `model`; `provider` / `model` resolve through the catalog (its own
names under provider `reelforge`, or a pair mapped with `provider_names`: `domain/scenes.resolve_model`).
`timeoutMs` is accepted on every action (the Modkie CLI sends it everywhere); only generate_and_wait waits.
Answers: `{taskId, status, videoUrl, url, provider, model}` (+ `progress`, `error`), naming the pair asked for.

Each action is its own route with its body model, so `/openapi.json` shows every input and answer. The
translation to a `GenerationRequest` is `reelforge.domain.scenes`, shared with MCP's `generate_video`;
creates go through the create path (`Idempotency-Key` honoured, a refused create leaves no upload).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal

from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from reelforge.accounts.keys import ApiKey
from reelforge.api.auth import require_key
from reelforge.api.deps import get_create_path, get_services
from reelforge.api.dialect import Dialect, dialect_router, generic_body
from reelforge.api.idempotency import idempotency_of
from reelforge.api.links import links_for
from reelforge.api.openapi import Responses, error_responses
from reelforge.api.ratelimit import READ_LIMITS
from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.domain.scenes import (
    MAX_WAIT_MS,
    PROVIDER,
    SCENE_MODELS,
    Options,
    SceneArgs,
    input_list,
    resolve_model,
    scene_request,
)
from reelforge.domain.task import Task, TaskStatus
from reelforge.edge.create import CreatePath
from reelforge.edge.links import Links, expired_message
from reelforge.edge.uploads import UploadSession, elide_data_uri
from reelforge.media.fetch import check_url
from reelforge.services import Services
from reelforge.tasks.service import Submission

DIALECT = "actions"
STATUS_NAMES = {
    TaskStatus.QUEUED: "queued",
    TaskStatus.RUNNING: "running",
    TaskStatus.SUCCEEDED: "success",
    TaskStatus.FAILED: "failed",
    TaskStatus.CANCELLED: "cancelled",
}
WAIT_POLL_SECONDS = 0.5

__all__ = [
    "ACTIONS",
    "ACTIONS_DIALECT",
    "MAX_WAIT_MS",
    "SCENE_MODELS",
    "GenerateAndWaitInput",
    "GenerateInput",
    "Options",
    "QueryInput",
    "TaskAnswer",
    "render_answer",
]

# ---------------------------------------------------------------- protocol


IGNORED_TIMEOUT = Field(
    None,
    ge=0,
    le=MAX_WAIT_MS,
    description="Accepted on every action (the Modkie CLI sends it); this one answers at once",
)


class GenerateInput(SceneArgs):
    """`ai.video.generate`: prompt, scene or model, image/video inputs, options (unknown fields refused)."""

    timeoutMs: int | None = IGNORED_TIMEOUT


class GenerateAndWaitInput(GenerateInput):
    """`ai.video.generate_and_wait`: `ai.video.generate`'s input plus how long to wait."""

    timeoutMs: int = Field(600_000, ge=0, le=MAX_WAIT_MS, description="Answer with the task as it is after this long")


class QueryInput(BaseModel):
    """`ai.video.query`: the task to report on."""

    model_config = ConfigDict(extra="forbid")

    taskId: str
    timeoutMs: int | None = IGNORED_TIMEOUT


class TaskAnswer(BaseModel):
    """Every action's answer: the task as it stands (`videoUrl` and `url` once it succeeded)."""

    taskId: str
    status: Literal["queued", "running", "success", "failed", "cancelled"]
    videoUrl: str | None = None
    url: str | None = None
    provider: str
    model: str
    progress: int
    error: dict[str, Any] | None = None
    timings: dict[str, Any] | None = Field(
        None, description="Addition: seconds per stage of the finished task (load, denoising, encode, store, total)"
    )


class ActionsErrorDetail(BaseModel):
    code: ErrorCode
    message: str
    field: str | None = Field(None, description="JSON pointer of the bad field (`/options/duration`)")


class ActionsError(BaseModel):
    """Every error: `{"error": {"code", "message", "field"?}}`."""

    error: ActionsErrorDetail


ACTIONS_ERRORS = {
    400: "Invalid input (field: JSON pointer), or a model's rule refused it",
    401: "Missing or wrong API key",
    402: "Not enough credits",
    404: "No such action or task",
    409: "Idempotency-Key reused with a different request",
    413: "Request body too large",
    503: "Queue full; retry later",
}


def errors(*statuses: int) -> Responses:
    """`responses=` for a route: each status with the actions error body, and `default` for the rest."""
    return error_responses(ActionsError, ACTIONS_ERRORS, *statuses)


ACTIONS: dict[str, tuple[type[BaseModel], str]] = {
    "ai.video.generate": (GenerateInput, "Create a video task; answers at once with its taskId"),
    "ai.video.query": (QueryInput, "A task's status and, once done, its video URL"),
    "ai.video.generate_and_wait": (
        GenerateAndWaitInput,
        "Create and wait up to timeoutMs; answers with the task as it then is",
    ),
}
CREATE_ERRORS = errors(400, 401, 402, 409, 413, 503)

# ---------------------------------------------------------------- translation


def echoed_input(data: GenerateInput) -> dict[str, Any]:
    """What the task's `input` keeps: the fields as sent, data URIs shortened to their header and size."""
    fields = data.scene_fields()
    if "imageInput" in fields:
        fields["imageInput"] = [elide_data_uri(value) for value in input_list(data.imageInput)]
    return fields


def create(request: Request, key_id: str, services: Services, create_path: CreatePath, data: GenerateInput) -> Task:
    """Blocking: create the task for `data` through the create path (the caller's Idempotency-Key honoured)."""
    resolved = resolve_model(data, services.tasks.catalog)
    model = resolved.spec.name
    idempotency = idempotency_of(request, DIALECT, model, data.scene_fields())
    allow_private = services.settings.private_input_urls_allowed
    echoed = echoed_input(data)
    if resolved.provider != PROVIDER:  # the answers name the pair the caller used
        echoed.update(provider=resolved.provider, model=resolved.model)

    def build(session: UploadSession) -> Submission:
        generation = scene_request(
            data,
            resolved.spec,
            accept_image=lambda value, field: session.accept_image(value, field).source,
            check_url=lambda url, field: check_url(url, allow_private=allow_private, purpose=field),
        )
        return Submission(model=model, request=generation, input=echoed, dialect=DIALECT)

    return create_path.create(key_id, build, idempotency)


def render_answer(task: Task, links: Links) -> dict[str, Any]:
    url = links.video_url(task)
    error = {"code": task.error_code, "message": task.error_message} if task.error_code else None
    if links.expired(task):  # no videoUrl any more: say why
        error = {"code": ErrorCode.OUTPUT_EXPIRED.value, "message": expired_message(task)}
    provider = task.input.get("provider") if task.dialect == DIALECT else None
    named = isinstance(provider, str) and provider != PROVIDER
    return TaskAnswer(
        taskId=task.id,
        status=STATUS_NAMES[task.status],
        videoUrl=url,
        url=url,
        provider=provider if named else PROVIDER,
        model=str(task.input.get("model")) if named else task.model,
        progress=task.progress,
        error=error,
        timings=task.timings,
    ).model_dump()


# ---------------------------------------------------------------- routes

router = dialect_router(
    generic_body,
    prefix="/api/actions",
    tags=["actions API"],
    auth_hint="`Authorization: Bearer rf_...` or `X-Api-Key: rf_...`",
)


def _no_action(name: str) -> ReelforgeError:
    return ReelforgeError(ErrorCode.NOT_FOUND, f"no action {name!r}; see GET /api/actions")


@router.get("", summary="The actions this server offers")
async def list_actions() -> dict[str, Any]:
    return {
        "actions": [
            {"name": name, "description": text, "schemaUrl": f"/api/actions/{name}/schema"}
            for name, (_, text) in ACTIONS.items()
        ]
    }


@router.get("/{name}/schema", summary="An action's input and output JSON Schema", responses=errors(404))
async def action_schema(name: str) -> dict[str, Any]:
    if name not in ACTIONS:
        raise _no_action(name)
    model, text = ACTIONS[name]
    return {
        "name": name,
        "description": text,
        "input": model.model_json_schema(),
        "output": TaskAnswer.model_json_schema(),
    }


@router.post(
    "/ai.video.generate",
    summary="Create a video task (answers at once)",
    response_model=TaskAnswer,
    responses=CREATE_ERRORS,
)
def generate(
    data: GenerateInput,
    request: Request,
    key: ApiKey = Depends(require_key),
    services: Services = Depends(get_services),
    create_path: CreatePath = Depends(get_create_path),
) -> dict[str, Any]:
    return render_answer(create(request, key.id, services, create_path, data), links_for(request))


@router.post(
    "/ai.video.generate_and_wait",
    summary="Create a video task and wait up to timeoutMs for it",
    response_model=TaskAnswer,
    responses=CREATE_ERRORS,
)
async def generate_and_wait(
    data: GenerateAndWaitInput,
    request: Request,
    key: ApiKey = Depends(require_key),
    services: Services = Depends(get_services),
    create_path: CreatePath = Depends(get_create_path),
) -> dict[str, Any]:
    task = await asyncio.to_thread(create, request, key.id, services, create_path, data)
    deadline = time.monotonic() + data.timeoutMs / 1000
    while not task.status.is_terminal and time.monotonic() < deadline:
        await asyncio.sleep(min(WAIT_POLL_SECONDS, max(0.0, deadline - time.monotonic())))
        task = await asyncio.to_thread(services.tasks.get, task.id, key.id)
    return render_answer(task, links_for(request))


@router.post(
    "/ai.video.query",
    summary="A task's status and, once done, its video URL",
    response_model=TaskAnswer,
    responses=errors(400, 401, 404),
    dependencies=READ_LIMITS,
)
def query(
    data: QueryInput,
    request: Request,
    key: ApiKey = Depends(require_key),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return render_answer(services.tasks.get(data.taskId, key.id), links_for(request))


@router.post("/{name}", summary="An action this server does not offer", responses=errors(401, 404))
def unknown_action(name: str, key: ApiKey = Depends(require_key)) -> dict[str, Any]:
    raise _no_action(name)


ACTIONS_DIALECT = Dialect(DIALECT, (router,), generic_body, render_answer, prefixes=("/api/actions",))

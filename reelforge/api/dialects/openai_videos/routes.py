"""The `/v1/videos` routes (and Agnes' `/agnesapi`), their declared bodies, answers and errors.

`POST /v1/videos` takes JSON or multipart (what the `openai` SDK sends with an `input_reference` file), so
it reads the body itself and declares both content types in OpenAPI from `CreateVideo`'s schema. Every
create (and remix) goes through the create path; handlers that touch the database or storage are plain
`def` (FastAPI runs them on its thread pool) or move that work off the event loop.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile

from reelforge.accounts.keys import ApiKey
from reelforge.api.auth import require_key
from reelforge.api.deps import get_create_path, get_services
from reelforge.api.dialect import FastRead, dialect_router
from reelforge.api.dialects.openai_videos.protocol import (
    CreateVideo,
    OpenAIError,
    OpenAIVideo,
    OpenAIVideoDeleted,
    OpenAIVideoList,
    RemixVideo,
)
from reelforge.api.dialects.openai_videos.render import STATUS_NAMES, render_error, render_video
from reelforge.api.dialects.openai_videos.translate import (
    DIALECT,
    UPLOAD_TYPES,
    InputFile,
    create_submission,
    remix_submission,
)
from reelforge.api.forms import decode_fields
from reelforge.api.idempotency import idempotency_of
from reelforge.api.links import links_for
from reelforge.api.openapi import Responses, error_responses, inline_schema
from reelforge.api.ratelimit import READ_LIMITS
from reelforge.domain import jsontext
from reelforge.domain.errors import ErrorCode, ReelforgeError, invalid
from reelforge.domain.polling import task_poll_after_ms
from reelforge.domain.task import Task
from reelforge.edge.create import CreatePath
from reelforge.edge.idempotency import digest
from reelforge.edge.links import expired_error
from reelforge.edge.uploads import UploadSession
from reelforge.services import Services
from reelforge.tasks.reads import Polled
from reelforge.tasks.service import Submission

MAX_LIST = 100
JSON_FIELDS = ("image", "extra_body", "input_reference", "characters")
"""Multipart text fields that may hold JSON (a list of image URLs, an object)."""


ERROR_DESCRIPTIONS = {
    400: "Invalid request; `param` is the JSON pointer of the field",
    401: "Missing or unknown API key",
    402: "Not enough credits",
    404: "No such video (unknown, deleted, or another key's)",
    409: "Idempotency-Key reused with a different body, or the content is not ready",
    410: "The video's files expired",
    413: "Request body too large",
    503: "The queue is full (Retry-After) or a provider is unavailable",
}


def _errors(*statuses: int) -> Responses:
    return error_responses(OpenAIError, ERROR_DESCRIPTIONS, *statuses)


def _request_body(model: type[BaseModel], *, multipart: bool) -> dict[str, Any]:
    json_schema = inline_schema(model)
    content: dict[str, Any] = {"application/json": {"schema": json_schema}}
    if multipart:
        form = copy.deepcopy(json_schema)
        form["properties"]["input_reference"] = {
            "anyOf": [
                {"type": "string", "format": "binary", "description": "a PNG, JPEG or WebP image file"},
                {"type": "string", "description": "an https image URL or a data URL"},
            ]
        }
        form["properties"]["extra_body"] = {"type": "string", "description": "extra_body as JSON text"}
        content["multipart/form-data"] = {"schema": form}
    return {"requestBody": {"required": True, "content": content}}


router = dialect_router(render_error, tags=["OpenAI videos / Agnes-Video-V2.0"])


def _validated(model: type[BaseModel], payload: Any) -> Any:
    """`payload` as `model`, or the failure as the app's request-validation error (JSON pointer, wording)."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None


async def _json_object(request: Request, not_json: str, not_object: str | None) -> dict[str, Any]:
    """The JSON object sent; `not_object` None reads any other JSON value as `{}` (its fields then missing)."""
    try:
        payload = jsontext.loads(await request.body())
    except ValueError as exc:
        raise invalid(not_json + jsontext.why(exc)) from None
    if not isinstance(payload, dict):
        if not_object is not None:
            raise invalid(not_object)
        return {}
    return payload


async def _read_create(request: Request, max_bytes: int) -> tuple[dict[str, Any], InputFile | None]:
    """(fields, the `input_reference` file if one was sent) of a create, from JSON or multipart.

    Multipart text fields are decoded by their bracket names (`image[]`, `extra_body[image][]`,
    `extra_body[mode]`, `characters[][id]`: `api/forms.py`) into the JSON object they stand for, so both
    transports are validated by the same model with the same pointers.
    """
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        not_json = "the request body must be JSON or multipart/form-data"
        return await _json_object(request, not_json, "the request body must be a JSON object"), None
    form = await request.form(max_files=1)
    try:
        fields: list[tuple[str, Any]] = []
        upload = None
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name != "input_reference":
                    raise invalid(f"unexpected file field {name!r}; send the image as input_reference", f"/{name}")
                upload = await _input_file(value, max_bytes)
            else:
                fields.append((name, value))
        return decode_fields(fields, JSON_FIELDS), upload
    finally:
        await form.close()


async def _input_file(part: UploadFile, max_bytes: int) -> InputFile:
    """The `input_reference` file part, read and typed; its pixels are checked in `build`, before storing."""
    kind = (part.content_type or "").lower()
    if kind not in UPLOAD_TYPES:
        raise invalid("input_reference must be a PNG, JPEG or WebP image", "/input_reference")
    data = await part.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise invalid("input_reference is larger than the upload limit", "/input_reference")
    return InputFile(data, UPLOAD_TYPES[kind], digest(data))


def poll_hint(task: Task, services: Services) -> dict[str, str]:
    """`openai-poll-after-ms`: how soon a poll could see something new (`domain.polling`, as MCP advises)."""
    advice = task_poll_after_ms(task, services.tasks.catalog.get(task.model))
    return {} if advice is None else {"openai-poll-after-ms": str(advice)}


def _video_response(task: Task, request: Request) -> JSONResponse:
    return JSONResponse(render_video(task, links_for(request)), headers=poll_hint(task, request.app.state.services))


def _polled_video(request: Request, polled: Polled) -> JSONResponse:
    assert polled.task is not None
    return _video_response(polled.task, request)


FAST_READS = (FastRead("/v1/videos/{}", _polled_video, render_error, full=True),)
"""`GET /v1/videos/{id}` through the fast read path (`api/fastread.py`); the route answers everything else."""


@router.post(
    "/v1/videos",
    summary="Create a video (JSON, or multipart with an input_reference image)",
    response_model=OpenAIVideo,
    responses=_errors(400, 401, 402, 409, 413, 503),
    openapi_extra=_request_body(CreateVideo, multipart=True),
)
async def create_video(
    request: Request,
    key: ApiKey = Depends(require_key),
    services: Services = Depends(get_services),
    create_path: CreatePath = Depends(get_create_path),
) -> JSONResponse:
    payload, upload = await _read_create(request, services.settings.data_uri_max_bytes)
    body: CreateVideo = _validated(CreateVideo, payload)
    parsed = body.model_dump(mode="json", exclude_none=True)
    idempotency = idempotency_of(request, DIALECT, parsed.get("model"), parsed, upload.digest if upload else None)

    def build(session: UploadSession) -> Submission:
        return create_submission(
            body,
            session,
            default_model=services.settings.default_video_model,
            spec_of=services.tasks.model,
            upload=upload,
        )

    try:
        task = await create_path.create_async(key.id, build, idempotency)  # storage and DB off the event loop
    except ReelforgeError as exc:
        raise _in_agnes_terms(exc, body) from None
    return _video_response(task, request)


def _in_agnes_terms(exc: ReelforgeError, body: CreateVideo) -> ReelforgeError:
    """An engine's refusal of the canonical `/duration` or `/fps`, pointed at the field the caller sent.

    The engine checks the canonical request; Agnes has no `duration` field, so its limits name
    `/num_frames` (or OpenAI's `/seconds`) and `/frame_rate`, with the values the caller gave.
    """
    if exc.field == "/duration":
        frames, rate = body.frames_and_rate()
        exc.field = "/num_frames" if body.num_frames is not None or body.seconds is None else "/seconds"
        said = "num_frames / frame_rate" if exc.field == "/num_frames" else "seconds"
        detail = exc.message.replace("duration", f"the duration ({said})", 1)
        exc.message = f"{frames} frames at {rate:g} fps is {frames / rate:g} s; {detail}"
    elif exc.field == "/fps":
        exc.field = "/frame_rate"
        exc.message = exc.message.replace("fps must", "frame_rate must", 1)
    return exc


@router.get(
    "/v1/videos",
    summary="List your videos (cursor pages)",
    response_model=OpenAIVideoList,
    responses=_errors(400, 401, 404),
    dependencies=READ_LIMITS,
)
def list_videos(
    request: Request,
    after: str | None = None,
    limit: int = 20,
    order: str = "desc",
    key: ApiKey = Depends(require_key),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    if not 1 <= limit <= MAX_LIST:
        raise invalid(f"limit must be 1-{MAX_LIST}", "limit")
    if order not in ("asc", "desc"):
        raise invalid("order must be asc or desc", "order")
    found, has_more = services.tasks.page(key.id, after=after, limit=limit, descending=order == "desc")
    links = links_for(request)
    data = [render_video(task, links) for task in found]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }


@router.get(
    "/v1/videos/{video_id}",
    summary="Retrieve a video (also Agnes' legacy task query)",
    response_model=OpenAIVideo,
    responses=_errors(401, 404),
    dependencies=READ_LIMITS,
)
def retrieve_video(
    video_id: str, request: Request, key: ApiKey = Depends(require_key), services: Services = Depends(get_services)
) -> JSONResponse:
    return _video_response(services.tasks.get(video_id, key.id), request)


@router.get(
    "/agnesapi",
    summary="Agnes: retrieve a video by video_id",
    response_model=OpenAIVideo,
    responses=_errors(400, 401, 404),
    dependencies=READ_LIMITS,
)
def agnes_retrieve(
    request: Request,
    video_id: str | None = None,
    model_name: str | None = None,
    key: ApiKey = Depends(require_key),
    services: Services = Depends(get_services),
) -> JSONResponse:
    if not video_id:
        raise invalid("video_id is required", "video_id")
    task = services.tasks.get(video_id, key.id)
    if model_name and model_name != task.model:
        raise ReelforgeError(ErrorCode.TASK_NOT_FOUND, f"no video {video_id!r} for model {model_name!r}")
    return _video_response(task, request)


@router.delete(
    "/v1/videos/{video_id}",
    summary="Delete a video (cancels it if still running, with refund), its outputs and its uploaded inputs",
    response_model=OpenAIVideoDeleted,
    responses=_errors(401, 404),
)
def delete_video(
    video_id: str, request: Request, key: ApiKey = Depends(require_key), services: Services = Depends(get_services)
) -> dict[str, Any]:
    task = services.tasks.delete(video_id, key.id)
    request.app.state.executor.cancel(video_id)
    services.storage.delete_prefix(f"tasks/{video_id}")
    for stored in task.request.stored_keys():  # the images it was made from go with it
        services.storage.delete(stored)
    return {"id": video_id, "deleted": True, "object": "video.deleted"}


@router.get(
    "/v1/videos/{video_id}/content",
    summary="Download the video or its thumbnail",
    response_class=Response,
    responses={
        200: {
            "content": {"video/mp4": {}, "image/jpeg": {}},
            "description": "The MP4, or a JPEG: the thumbnail or the spritesheet (16 frames sampled across it, 4 wide)",
        },
        **_errors(400, 401, 404, 409, 410),
    },
    dependencies=READ_LIMITS,
)
def video_content(
    video_id: str,
    request: Request,
    variant: str = "video",
    key: ApiKey = Depends(require_key),
    services: Services = Depends(get_services),
) -> Response:
    if variant not in ("video", "thumbnail", "spritesheet"):
        raise invalid("variant must be video, thumbnail or spritesheet", "variant")
    task = services.tasks.get(video_id, key.id)
    if task.output is None:
        raise ReelforgeError(
            ErrorCode.INVALID_STATE,
            f"video {video_id!r} is {STATUS_NAMES[task.status]}; its content exists once completed",
        )
    if links_for(request).expired(task):
        raise expired_error(task)
    keys = {
        "video": task.output.video_key,
        "thumbnail": task.output.thumbnail_key,
        "spritesheet": task.output.spritesheet_key,
    }
    storage_key = keys[variant]
    if storage_key is None:  # a video stored before spritesheets were made
        raise ReelforgeError(ErrorCode.NOT_FOUND, f"video {video_id!r} has no spritesheet; remix it to get one")
    media_type = "video/mp4" if variant == "video" else "image/jpeg"
    path = services.storage.local_path(storage_key)
    if path is not None:
        return FileResponse(path, media_type=media_type)
    # Object storage: streamed through (the API key authorises this route, not a link, so no redirect).
    try:
        size = services.storage.size(storage_key)
    except FileNotFoundError:
        raise ReelforgeError(ErrorCode.TASK_NOT_FOUND, f"the content of video {video_id!r} no longer exists") from None
    return StreamingResponse(  # a sync iterator: Starlette reads it on its thread pool
        services.storage.iter_bytes(storage_key), media_type=media_type, headers={"content-length": str(size)}
    )


@router.post(
    "/v1/videos/{video_id}/remix",
    summary="A new video from the same inputs with a new prompt",
    response_model=OpenAIVideo,
    responses=_errors(400, 401, 402, 404, 409, 503),
    openapi_extra=_request_body(RemixVideo, multipart=False),
)
async def remix_video(
    video_id: str,
    request: Request,
    key: ApiKey = Depends(require_key),
    services: Services = Depends(get_services),
    create_path: CreatePath = Depends(get_create_path),
) -> JSONResponse:
    body: RemixVideo = _validated(
        RemixVideo, await _json_object(request, "the request body must be JSON with a prompt", None)
    )
    idempotency = idempotency_of(request, DIALECT, "remix", video_id, body.model_dump(mode="json"))

    def build(session: UploadSession) -> Submission:
        return remix_submission(services.tasks.get(video_id, key.id), body, session)

    task = await create_path.create_async(key.id, build, idempotency)
    return _video_response(task, request)

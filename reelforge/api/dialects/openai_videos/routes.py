"""OpenAI's Videos API (`/v1/videos`) with the Agnes-Video-V2.0 contract (`shared/specs/002_*.txt`).

One create endpoint takes both vocabularies: OpenAI's `seconds`, `size` and `input_reference` (a file
part, an image URL or a data URL), and Agnes' `width`/`height`, `num_frames` (8n+1, at most 441),
`frame_rate`, `image` (one or many), `mode` (`ti2vid`, `keyframes`), `num_inference_steps`, `seed`,
`negative_prompt` and `extra_body.image` / `extra_body.mode`. Sizes are standardised as the Agnes contract
says (see `video_sizes.py`); responses show the `size` and `seconds` really used.

Video objects carry OpenAI's fields plus Agnes' `task_id`, `video_id` and `video_url`. Agnes puts the
finished video's URL in `remixed_from_video_id`; reelforge does too, except for a remix, where the field
keeps OpenAI's meaning (the id of the video it was remixed from).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.datastructures import UploadFile

from reelforge.accounts.keys import ApiKey
from reelforge.api.auth import require_key
from reelforge.api.dialect import Dialect, dialect_router
from reelforge.api.dialects.video_sizes import standardize
from reelforge.api.idempotency import idempotency_of
from reelforge.api.links import links_for
from reelforge.domain.errors import ErrorCode, ReelforgeError, invalid
from reelforge.domain.request import STORED_PREFIX, GenerationRequest, ImageInput, Kind
from reelforge.domain.task import Task, TaskStatus
from reelforge.edge.idempotency import Idempotency, digest
from reelforge.edge.links import Links, expired_error, expired_message
from reelforge.edge.uploads import accept_image, elide_data_uri
from reelforge.services import Services
from reelforge.tasks.service import Submission

DIALECT = "openai"
DEFAULT_WIDTH, DEFAULT_HEIGHT = 1152, 768
DEFAULT_FRAMES, DEFAULT_FRAME_RATE = 121, 24
MAX_FRAMES = 441
MAX_SECONDS = 60
MAX_IMAGES = 16
MAX_LIST = 100
UPLOAD_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}

STATUS_NAMES = {
    TaskStatus.QUEUED: "queued",
    TaskStatus.RUNNING: "in_progress",
    TaskStatus.SUCCEEDED: "completed",
    TaskStatus.FAILED: "failed",
    TaskStatus.CANCELLED: "failed",  # OpenAI has no cancelled status; the error says what happened
}
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "invalid_request_error",
    410: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    503: "service_unavailable",
}


def render_error(exc: ReelforgeError) -> dict[str, Any]:
    return {
        "error": {
            "message": exc.message,
            "type": ERROR_TYPES.get(exc.http_status, "server_error"),
            "param": exc.field,
            "code": exc.code.value,
        }
    }


# --------------------------------------------------------------- parsing


def _int(payload: dict[str, Any], name: str, low: int, high: int) -> int | None:
    value = payload.get(name)
    if value is None or value == "":
        return None
    try:
        number = int(str(value))
    except ValueError:
        raise invalid(f"{name} must be an integer", f"/{name}") from None
    if not low <= number <= high:
        raise invalid(f"{name} must be between {low} and {high}, got {number}", f"/{name}")
    return number


def _frames_and_rate(payload: dict[str, Any]) -> tuple[int, float]:
    """Frame count and rate: Agnes' num_frames/frame_rate, else OpenAI's seconds at the default rate."""
    rate_value = payload.get("frame_rate")
    rate = float(DEFAULT_FRAME_RATE)
    if rate_value not in (None, ""):
        try:
            rate = float(rate_value)
        except (TypeError, ValueError):
            raise invalid("frame_rate must be a number from 1 to 60", "/frame_rate") from None
        if not 1 <= rate <= 60:
            raise invalid(f"frame_rate must be from 1 to 60, got {rate_value}", "/frame_rate")
    frames = _int(payload, "num_frames", 1, 10**6)
    if frames is not None:
        if frames > MAX_FRAMES:
            raise invalid(f"num_frames must be at most {MAX_FRAMES}, got {frames}", "/num_frames")
        if (frames - 1) % 8:
            below = (frames - 1) // 8 * 8 + 1
            raise invalid(
                f"num_frames must follow the 8n+1 rule (e.g. 81, 121, 241, 441); "
                f"{frames} is not, the nearest are {below} and {below + 8}",
                "/num_frames",
            )
        return frames, rate
    seconds = payload.get("seconds")
    if seconds in (None, ""):
        return DEFAULT_FRAMES, rate
    try:
        value = float(str(seconds))
    except ValueError:
        raise invalid('seconds must be a number of seconds, such as "4" or "8"', "/seconds") from None
    if not 0 < value <= MAX_SECONDS:
        raise invalid(f"seconds must be more than 0 and at most {MAX_SECONDS}", "/seconds")
    return max(1, round(value * rate)), rate


def _size(payload: dict[str, Any]) -> tuple[int, int]:
    size = payload.get("size")
    if size not in (None, "") and payload.get("width") is None and payload.get("height") is None:
        parts = str(size).lower().split("x")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise invalid("size must be WIDTHxHEIGHT, such as 1280x720", "/size")
        width, height = (int(p) for p in parts)
    else:
        width = _int(payload, "width", 64, 4096) or DEFAULT_WIDTH
        height = _int(payload, "height", 64, 4096) or DEFAULT_HEIGHT
    if min(width, height) < 64:
        raise invalid("size must be at least 64 pixels on each side", "/size")
    return width, height


def _image_values(payload: dict[str, Any]) -> list[tuple[str, Any]]:
    """(pointer, value) of every image given: `image`, `extra_body.image`, `input_reference`."""
    found: list[tuple[str, Any]] = []
    extra = payload.get("extra_body") if isinstance(payload.get("extra_body"), dict) else {}
    for pointer, value in (("/image", payload.get("image")), ("/extra_body/image", extra.get("image"))):
        if isinstance(value, list):
            found += [(f"{pointer}/{i}", item) for i, item in enumerate(value)]
        elif value not in (None, ""):
            found.append((pointer, value))
    reference = payload.get("input_reference")
    if isinstance(reference, dict):
        reference = reference.get("image_url")
        if reference is None:
            raise invalid("input_reference needs image_url (file_id references are not supported)", "/input_reference")
    if reference not in (None, ""):
        found.append(("/input_reference", reference))
    return found


def parse_create(
    payload: dict[str, Any], services: Services, uploaded: str | None
) -> tuple[str, GenerationRequest, dict[str, Any]]:
    """(model, canonical request, echoed input) for one create payload; `uploaded` is a stored file ref."""
    prompt = payload.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise invalid("prompt is required: describe the video", "/prompt")
    model = payload.get("model") or services.settings.default_video_model
    if not isinstance(model, str):
        raise invalid("model must be a string", "/model")
    frames, rate = _frames_and_rate(payload)
    width, height = _size(payload)
    if services.tasks.model(model).standardize_sizes:
        width, height, _, _ = standardize(width, height)
    sources = [
        accept_image(value, pointer, services.settings, services.storage).source
        for pointer, value in _image_values(payload)
    ]
    if uploaded:
        sources.append(uploaded)
    if len(sources) > MAX_IMAGES:
        raise invalid(f"at most {MAX_IMAGES} images are accepted, got {len(sources)}", "/image")
    extra = payload.get("extra_body") if isinstance(payload.get("extra_body"), dict) else {}
    mode = extra.get("mode") or payload.get("mode") or "ti2vid"
    if mode not in ("ti2vid", "keyframes"):
        raise invalid(f"mode must be ti2vid or keyframes, got {mode!r}", "/mode")
    if mode == "keyframes":
        if len(sources) < 2:
            raise invalid("keyframes mode needs at least two images", "/extra_body/image")
        kind = Kind.KEYFRAMES
        positions = [round(i * (frames - 1) / (len(sources) - 1)) for i in range(len(sources))]
    else:
        kind = {0: Kind.TEXT_TO_VIDEO, 1: Kind.IMAGE_TO_VIDEO}.get(len(sources), Kind.MULTI_IMAGE)
        positions = [0] * len(sources)
    seed = _int(payload, "seed", 0, 2**63 - 1)
    steps = _int(payload, "num_inference_steps", 1, 1000)
    negative = payload.get("negative_prompt")
    if negative is not None and not isinstance(negative, str):
        raise invalid("negative_prompt must be a string", "/negative_prompt")
    request = GenerationRequest(
        kind=kind,
        prompt=prompt.strip(),
        images=[ImageInput(source=s, frame=f) for s, f in zip(sources, positions, strict=True)],
        width=width,
        height=height,
        fps=rate,
        duration=frames / rate,
        seed=seed if seed is not None else secrets.randbelow(2**31),
        steps=steps,
        negative_prompt=negative,
    )
    echoed = {
        k: elide_data_uri(v) if not isinstance(v, list) else [elide_data_uri(i) for i in v]
        for k, v in payload.items()
        if k in ECHOED
    }
    return model, request, echoed


ECHOED = (
    "model",
    "prompt",
    "seconds",
    "size",
    "width",
    "height",
    "num_frames",
    "frame_rate",
    "image",
    "mode",
    "num_inference_steps",
    "seed",
    "negative_prompt",
    "extra_body",
    "input_reference",
)


# ------------------------------------------------------------- rendering


def seconds_text(task: Task) -> str:
    seconds = task.output.duration if task.output else task.request.duration
    return f"{seconds:.2f}".rstrip("0").rstrip(".")


def render_video(task: Task, links: Links) -> dict[str, Any]:
    video_url = links.video_url(task)
    remixed_from = task.extra.get("remixed_from")
    error = None
    if task.status == TaskStatus.CANCELLED:
        error = {"code": "cancelled", "message": "the video was cancelled"}
    elif task.error_code:
        error = {"code": task.error_code, "message": task.error_message}
    elif links.expired(task):  # still `completed`, as OpenAI keeps it; the error says the file is gone
        error = {"code": ErrorCode.OUTPUT_EXPIRED.value, "message": expired_message(task)}
    return {
        "id": task.id,
        "object": "video",
        "model": task.model,
        "status": STATUS_NAMES[task.status],
        "progress": task.progress,
        "created_at": int(task.created_at.timestamp()),
        "completed_at": int(task.completed_at.timestamp()) if task.completed_at else None,
        "expires_at": int(task.expires_at.timestamp()) if task.expires_at else None,
        "prompt": task.request.prompt,
        "seconds": seconds_text(task),
        "size": f"{task.request.width}x{task.request.height}",
        "remixed_from_video_id": remixed_from or video_url,
        "error": error,
        "task_id": task.id,
        "video_id": task.id,
        "video_url": video_url,
    }


def poll_hint(task: Task) -> dict[str, str]:
    """`openai-poll-after-ms`: how soon a poll could see something new."""
    if task.status.is_terminal:
        return {}
    return {"openai-poll-after-ms": "2000" if task.status == TaskStatus.QUEUED else "1000"}


# ---------------------------------------------------------------- routes


router = dialect_router(render_error, tags=["OpenAI videos / Agnes-Video-V2.0"])


async def _read_create(request: Request, services: Services) -> tuple[dict[str, Any], str | None, str | None]:
    """(payload, stored upload ref, its SHA-256) of a create, from JSON or multipart (`input_reference`)."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        try:
            payload = await request.json()
        except ValueError:
            raise invalid("the request body must be JSON or multipart/form-data") from None
        if not isinstance(payload, dict):
            raise invalid("the request body must be a JSON object")
        return payload, None, None
    form = await request.form(max_files=1)
    try:
        payload: dict[str, Any] = {}
        uploaded = upload_digest = None
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name != "input_reference":
                    raise invalid(f"unexpected file field {name!r}; send the image as input_reference", name)
                kind = (value.content_type or "").lower()
                if kind not in UPLOAD_TYPES:
                    raise invalid("input_reference must be a PNG, JPEG or WebP image", "/input_reference")
                data = await value.read()
                if len(data) > services.settings.data_uri_max_bytes:
                    raise invalid("input_reference is larger than the upload limit", "/input_reference")
                key = f"uploads/{secrets.token_hex(12)}.{UPLOAD_TYPES[kind]}"
                await asyncio.to_thread(services.storage.put_bytes, key, data)  # S3: off the event loop
                uploaded, upload_digest = STORED_PREFIX + key, digest(data)
            elif name in ("image", "extra_body"):
                payload[name] = _maybe_json(value)
            else:
                payload[name] = value
        return payload, uploaded, upload_digest
    finally:
        await form.close()


def _maybe_json(value: str) -> Any:
    try:
        return json.loads(value) if value[:1] in "[{" else value
    except ValueError:
        return value


def _create_from(
    services: Services,
    key: ApiKey,
    payload: dict[str, Any],
    uploaded: str | None,
    idempotency: Idempotency,
) -> Task:
    task = None
    try:
        model, generation, echoed = parse_create(payload, services, uploaded)
        task = services.tasks.submit(
            key.id,
            Submission(
                model=model,
                request=generation,
                input=echoed,
                dialect=DIALECT,
                idempotency_key=idempotency.key,
                request_hash=idempotency.digest,
            ),
        )
        return task
    finally:
        used = set() if task is None else {image.source for image in task.request.images}
        if uploaded and uploaded not in used:  # refused, or a repeat answered with the first task
            services.storage.delete(uploaded.removeprefix(STORED_PREFIX))


def _video_response(task: Task, request: Request, status_code: int = 200) -> JSONResponse:
    return JSONResponse(render_video(task, links_for(request)), status_code=status_code, headers=poll_hint(task))


@router.post("/v1/videos", summary="Create a video (JSON, or multipart with an input_reference image)")
async def create_video(request: Request, key: ApiKey = Depends(require_key)) -> JSONResponse:
    services: Services = request.app.state.services
    payload, uploaded, upload_digest = await _read_create(request, services)
    idempotency = idempotency_of(request, DIALECT, payload, upload_digest)
    task = await asyncio.to_thread(_create_from, services, key, payload, uploaded, idempotency)
    request.app.state.executor.dispatch(task)
    return _video_response(task, request)


@router.get("/v1/videos", summary="List your videos (cursor pages)")
async def list_videos(
    request: Request, after: str | None = None, limit: int = 20, order: str = "desc", key: ApiKey = Depends(require_key)
) -> dict[str, Any]:
    if not 1 <= limit <= MAX_LIST:
        raise invalid(f"limit must be 1-{MAX_LIST}", "limit")
    if order not in ("asc", "desc"):
        raise invalid("order must be asc or desc", "order")
    services: Services = request.app.state.services
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


@router.get("/v1/videos/{video_id}", summary="Retrieve a video (also Agnes' legacy task query)")
async def retrieve_video(video_id: str, request: Request, key: ApiKey = Depends(require_key)) -> JSONResponse:
    return _video_response(request.app.state.services.tasks.get(video_id, key.id), request)


@router.get("/agnesapi", summary="Agnes: retrieve a video by video_id")
async def agnes_retrieve(
    request: Request, video_id: str | None = None, model_name: str | None = None, key: ApiKey = Depends(require_key)
) -> JSONResponse:
    if not video_id:
        raise invalid("video_id is required", "video_id")
    task = request.app.state.services.tasks.get(video_id, key.id)
    if model_name and model_name != task.model:
        raise ReelforgeError(ErrorCode.TASK_NOT_FOUND, f"no video {video_id!r} for model {model_name!r}")
    return _video_response(task, request)


@router.delete("/v1/videos/{video_id}", summary="Delete a video (cancels it if still running, with refund)")
async def delete_video(video_id: str, request: Request, key: ApiKey = Depends(require_key)) -> dict[str, Any]:
    services: Services = request.app.state.services
    await asyncio.to_thread(services.tasks.delete, video_id, key.id)
    request.app.state.executor.cancel(video_id)
    await asyncio.to_thread(services.storage.delete_prefix, f"tasks/{video_id}")
    return {"id": video_id, "deleted": True, "object": "video.deleted"}


@router.get("/v1/videos/{video_id}/content", summary="Download the video or its thumbnail")
async def video_content(
    video_id: str, request: Request, variant: str = "video", key: ApiKey = Depends(require_key)
) -> Response:
    if variant not in ("video", "thumbnail"):
        raise invalid("variant must be video or thumbnail (spritesheets are not produced)", "variant")
    services: Services = request.app.state.services
    task = services.tasks.get(video_id, key.id)
    if task.output is None:
        raise ReelforgeError(
            ErrorCode.INVALID_STATE,
            f"video {video_id!r} is {STATUS_NAMES[task.status]}; its content exists once completed",
        )
    if links_for(request).expired(task):
        raise expired_error(task)
    storage_key = task.output.video_key if variant == "video" else task.output.thumbnail_key
    media_type = "video/mp4" if variant == "video" else "image/jpeg"
    path = services.storage.local_path(storage_key)
    if path is not None:
        return FileResponse(path, media_type=media_type)
    # Object storage: streamed through (the API key authorises this route, not a link, so no redirect).
    try:
        size = await asyncio.to_thread(services.storage.size, storage_key)
    except FileNotFoundError:
        raise ReelforgeError(ErrorCode.TASK_NOT_FOUND, f"the content of video {video_id!r} no longer exists") from None
    return StreamingResponse(
        services.storage.iter_bytes(storage_key), media_type=media_type, headers={"content-length": str(size)}
    )


@router.post("/v1/videos/{video_id}/remix", summary="A new video from the same inputs with a new prompt")
async def remix_video(video_id: str, request: Request, key: ApiKey = Depends(require_key)) -> JSONResponse:
    services: Services = request.app.state.services
    try:
        body = await request.json()
    except ValueError:
        raise invalid("the request body must be JSON with a prompt") from None
    prompt = body.get("prompt") if isinstance(body, dict) else None
    if not isinstance(prompt, str) or not prompt.strip():
        raise invalid("prompt is required: describe the remix", "/prompt")
    source = services.tasks.get(video_id, key.id)
    remix = source.request.model_copy(update={"prompt": prompt.strip()})
    submission = Submission(
        model=source.model,
        request=remix,
        input={**source.input, "prompt": prompt.strip()},
        dialect=DIALECT,
        extra={"remixed_from": source.id},
    )
    task = await asyncio.to_thread(services.tasks.submit, key.id, submission)
    request.app.state.executor.dispatch(task)
    return _video_response(task, request)


OPENAI_VIDEOS_DIALECT = Dialect(DIALECT, (router,), render_error, render_video, prefixes=("/v1/", "/agnesapi"))

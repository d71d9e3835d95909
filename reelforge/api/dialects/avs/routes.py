"""The AVS job routes: the two creates (JSON or multipart) and polling."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from reelforge.accounts.tokens import ApiToken
from reelforge.api.auth import key_from_headers
from reelforge.api.deps import get_create_path, get_services
from reelforge.api.dialect import FastRead, dialect_router, generic_body
from reelforge.api.dialects.avs import translate
from reelforge.api.dialects.avs.protocol import (
    AvsJob,
    Create,
    FromJsonRequest,
    FromPromptRequest,
    errors,
    parse_body,
    request_body,
)
from reelforge.api.dialects.avs.translate import DIALECT, JSON_MODEL, PROMPT_MODEL, Upload
from reelforge.api.dialects.avs.uploads import CreateBody, read_body
from reelforge.api.idempotency import idempotency_of
from reelforge.api.links import links_for
from reelforge.api.ratelimit import limit_ip, limit_key_id
from reelforge.config import Settings
from reelforge.domain.task import Task, TaskStatus
from reelforge.edge.create import CreatePath
from reelforge.edge.links import Links, expired_message
from reelforge.edge.uploads import UploadSession
from reelforge.services import Services
from reelforge.tasks.reads import Polled
from reelforge.tasks.service import Submission

STATUS_NAMES = {
    TaskStatus.QUEUED: "queued",
    TaskStatus.RUNNING: "running",
    TaskStatus.SUCCEEDED: "completed",
    TaskStatus.FAILED: "failed",
    TaskStatus.CANCELLED: "cancelled",
}
# Phases the contract names; "started" (claimed, engine not yet reporting) shows as preparing_assets.
PHASE_NAMES = {"started": "preparing_assets"}


def require_public_token(request: Request) -> ApiToken:
    """FastAPI dependency: the caller's `public_api` token; a plain `def` (like `require_key`), so the lookup
    runs on the thread pool, not on the event loop."""
    tokens = request.app.state.services.tokens
    token = tokens.authenticate(key_from_headers(request), kind="public_api")
    request.state.api_token = token
    return token


async def limit_token(request: Request, token: ApiToken = Depends(require_public_token)) -> None:
    """The per-key read limit for a token's key (every token of a key shares the key's limit)."""
    await limit_key_id(request, token.key_id)


# ------------------------------------------------------------- rendering


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def render_job(task: Task, links: Links) -> dict[str, Any]:
    result = None
    if task.output is not None:
        # expiresAt: when downloadUrl stops working. Links are signed until the output expires (the contract's
        # 7 days after completion by default), so a client may keep the link until expiresAt.
        result = {
            "downloadUrl": links.video_url(task),
            "expiresAt": _iso(links.link_expiry(task)),
            "thumbnailUrl": links.thumbnail_url(task),
            "durationSeconds": task.output.duration,
            "width": task.output.width,
            "height": task.output.height,
        }
        poster = links.poster_url(task)
        if poster is not None:  # extension: output.poster was asked for
            result["posterUrl"] = poster
        if links.expired(task):  # addition: downloadUrl is null because the files were deleted
            result.update(expired=True, message=expired_message(task))
    error = {"code": task.error_code, "message": task.error_message} if task.error_code else None
    job: dict[str, Any] = {
        "jobId": task.id,
        "mode": task.request.extra.get("mode", task.model),
        "status": STATUS_NAMES[task.status],
        "phase": PHASE_NAMES.get(task.phase or "", task.phase),
        "progress": task.progress,
        "createdAt": _iso(task.created_at),
        "updatedAt": _iso(task.updated_at),
        "error": error,
        "result": result,
    }
    if task.timings:  # addition: where the finished job's seconds went (docs/gpu.md, "Stage timings")
        job["timings"] = task.timings
    return job


# ---------------------------------------------------------------- creates


@dataclass(frozen=True)
class Mode(Generic[Create]):
    """One create route: the model it submits to, its body model and the translation to a `Submission`."""

    model: str
    protocol: type[Create]
    translate: Callable[[Create, dict[str, Upload], Settings], Submission]


JSON_MODE = Mode(JSON_MODEL, FromJsonRequest, translate.from_json)
PROMPT_MODE = Mode(PROMPT_MODEL, FromPromptRequest, translate.from_prompt)


def create(
    request: Request, key_id: str, create_path: CreatePath, settings: Settings, body: CreateBody, mode: Mode[Create]
) -> Task:
    """Blocking (run it off the loop): validate the payload, read the files, then let the create path store
    them through its upload session, submit and dispatch. A refusal here has stored nothing; one after
    (402, 409, an engine's 400) has its uploads deleted by the create path."""
    parsed = parse_body(mode.protocol, body.payload)
    files = body.files(settings.max_upload_bytes)
    idempotency = idempotency_of(request, DIALECT, mode.model, body.payload, {f.name: f.digest for f in files})

    def build(session: UploadSession) -> Submission:
        uploads = {f.name: Upload(f.name, f.type, session.put(f.data, f.name).source) for f in files}
        return mode.translate(parsed, uploads, settings)

    return create_path.create(key_id, build, idempotency)


async def _create_route(
    request: Request, token: ApiToken, create_path: CreatePath, services: Services, mode: Mode[Create]
) -> JSONResponse:
    async with read_body(request) as body:  # the multipart form (spooled files) stays open until the create ends
        task = await asyncio.to_thread(create, request, token.key_id, create_path, services.settings, body, mode)
    return JSONResponse(render_job(task, links_for(request)), status_code=202)


router = dialect_router(generic_body, tags=["AVS public video API"])
CREATE_ERRORS = errors(400, 401, 402, 403, 409, 413, 503)


@router.post(
    "/api/v1/videos/from-json",
    summary="Render an AVS Template JSON v1 (JSON, or multipart with uploads)",
    status_code=202,
    response_model=AvsJob,
    responses=CREATE_ERRORS,
    openapi_extra=request_body(FromJsonRequest),
)
async def from_json(
    request: Request,
    token: ApiToken = Depends(require_public_token),
    create_path: CreatePath = Depends(get_create_path),
    services: Services = Depends(get_services),
) -> JSONResponse:
    return await _create_route(request, token, create_path, services, JSON_MODE)


@router.post(
    "/api/v1/videos/from-prompt",
    summary="Plan and render a video from a prompt and assets (JSON, or multipart with uploads)",
    status_code=202,
    response_model=AvsJob,
    responses=CREATE_ERRORS,
    openapi_extra=request_body(FromPromptRequest),
)
async def from_prompt(
    request: Request,
    token: ApiToken = Depends(require_public_token),
    create_path: CreatePath = Depends(get_create_path),
    services: Services = Depends(get_services),
) -> JSONResponse:
    return await _create_route(request, token, create_path, services, PROMPT_MODE)


# ---------------------------------------------------------------- polling


@router.get(
    "/api/v1/jobs/{job_id}",
    summary="AvsJob status, phase and result",
    response_model=AvsJob,
    responses=errors(401, 403, 404),
    dependencies=[Depends(limit_ip), Depends(limit_token)],
)
def get_job(
    job_id: str,
    request: Request,
    token: ApiToken = Depends(require_public_token),
    services: Services = Depends(get_services),
) -> JSONResponse:
    task = services.tasks.get(job_id, token.key_id)  # a plain `def`: FastAPI runs it on its thread pool
    return JSONResponse(render_job(task, links_for(request)))


def _polled_job(request: Request, polled: Polled) -> JSONResponse:
    assert polled.task is not None
    return JSONResponse(render_job(polled.task, links_for(request)))


FAST_READS = (FastRead("/api/v1/jobs/{}", _polled_job, generic_body, full=True, credential="public_token"),)
"""`GET /api/v1/jobs/{id}` through the fast read path (`api/fastread.py`); the route answers everything else."""

"""Routes every deployment has whatever the dialect: health, the model catalog, signed file downloads."""

from __future__ import annotations

import asyncio
import shutil
import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response

from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.edge.links import expired_error
from reelforge.engines.base import engine_class
from reelforge.runtime.readiness import check_database, readiness
from reelforge.services import Services

router = APIRouter()

MEDIA_TYPES = {
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".gif": "image/gif",
    ".jpg": "image/jpeg",
    ".png": "image/png",
}
REDIRECT_SECONDS = 300
"""Longest life of the presigned URL a `/files` link redirects to (it never outlives the link itself)."""


@router.get("/healthz", tags=["system"], summary="200 when the server and its store are ready")
async def healthz(request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    try:
        await asyncio.to_thread(check_database, services)
    except Exception:
        return JSONResponse({"status": "unavailable", "store": "unreachable"}, status_code=503)
    free = await asyncio.to_thread(_free_bytes, services)
    if free is not None and free < services.settings.min_free_bytes:
        # Creates would fail storing their uploads, the database its rows: say so, out of rotation.
        return JSONResponse(
            {"status": "unavailable", "store": "ok", "disk": "full", "freeBytes": free}, status_code=503
        )
    return JSONResponse({"status": "ok", "store": "ok", "disk": "ok"})


@router.get(
    "/readyz",
    tags=["system"],
    summary="200 when a create would succeed: database, storage and (with Celery) the broker all answer",
    responses={503: {"description": "A dependency is not ready; `checks` names it"}},
)
async def readyz(request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    checks = await asyncio.to_thread(readiness, services)
    ready = all(state in ("ok", "not used") for state in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks}, status_code=200 if ready else 503
    )


def _free_bytes(services: Services) -> int | None:
    """The fewest free bytes among the data directory and the local artifact store (None: cannot tell)."""
    folders = [services.settings.data_dir]
    if services.settings.storage == "local":
        folders.append(services.settings.artifacts_dir)
    free = []
    for folder in folders:
        try:
            free.append(shutil.disk_usage(folder).free)
        except OSError:
            continue
    return min(free) if free else None


@router.get("/api/v1/models", tags=["system"], summary="The model catalog, with engines and capabilities")
async def models(request: Request) -> dict[str, Any]:
    catalog = request.app.state.services.tasks.catalog
    listed = []
    for name in catalog.names:
        spec = catalog.models[name]
        listed.append(
            {
                "name": spec.name,
                "engine": spec.engine,
                "kind": spec.kind.value,
                "description": spec.description,
                "creditsPerSecond": spec.credits_per_second,
                "durations": spec.durations,
                "aspectRatios": spec.aspect_ratios,
                "maxPrompts": spec.max_prompts,
                "height": spec.height,
                "fps": spec.fps,
                "capabilities": _capabilities(spec.engine),
            }
        )
    return {"models": listed}


def _capabilities(engine: str) -> dict[str, Any] | None:
    """An engine's capabilities, or `available: false` with the reason when this deployment lacks it."""
    try:
        return engine_class(engine).capabilities.to_dict()
    except (ImportError, ReelforgeError) as exc:
        return {"available": False, "reason": str(exc)}


@router.get("/files/{key:path}", tags=["system"], summary="Download a file through a signed, expiring link")
async def download(key: str, expires: int, signature: str, request: Request) -> Response:
    """Serve a signed link: the file itself (local storage) or a redirect to a short-lived presigned URL
    (S3 in `REELFORGE_S3_LINKS=redirect` mode). A task's output past its expiry answers 410 OUTPUT_EXPIRED,
    also for links signed before, so an old link says what happened rather than just "expired"."""
    services: Services = request.app.state.services
    storage = services.storage
    try:
        storage.verify(key, expires, signature)
    except ReelforgeError as exc:
        if exc.code != ErrorCode.LINK_EXPIRED:
            raise
        await _raise_if_output_expired(services, key)
        raise
    await _raise_if_output_expired(services, key)
    path = storage.local_path(key)
    if path is None:
        remaining = max(1, min(REDIRECT_SECONDS, expires - int(time.time())))
        direct = await asyncio.to_thread(storage.direct_url, key, remaining)
        if direct is None:  # a store with no local files serves by URL; anything else is a broken backend
            raise ReelforgeError(ErrorCode.INTERNAL_ERROR, "the storage backend gave no URL for this file")
        return RedirectResponse(direct, status_code=307)
    if not path.is_file():
        raise ReelforgeError(ErrorCode.TASK_NOT_FOUND, "this file no longer exists")
    return FileResponse(path, media_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream"))


@router.head("/files/{key:path}", include_in_schema=False)
async def download_head(key: str, expires: int, signature: str, request: Request) -> Response:
    """HEAD answers like GET without a body (clients and CDNs probe a link's size and type first; it was 405)."""
    return await download(key, expires, signature, request)


async def _raise_if_output_expired(services: Services, key: str) -> None:
    """OUTPUT_EXPIRED when `key` is a file of a task whose output expired (keys `tasks/<task id>/...`)."""
    parts = key.split("/")
    if len(parts) < 3 or parts[0] != "tasks":
        return
    try:
        task = await asyncio.to_thread(services.tasks.get, parts[1])
    except ReelforgeError:
        return
    if task.output_expired(datetime.now(UTC)):
        raise expired_error(task)

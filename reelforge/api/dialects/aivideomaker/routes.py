"""The AIVideoMaker v1 routes: `/api/v1/generate/{model}` and `/api/v1/tasks/...`.

Every handler that reads or writes the database is a plain `def`, which FastAPI runs on its thread pool
(as is `require_key`); the async dependencies only look the model up in the in-memory catalog, read the
request body and count queries for the rate limit. A create goes through the one create path
(`CreatePath`): the body is validated completely before the image is stored, and the path deletes the
stored image when anything refuses the create (402, 409, the engine's check) or a repeat with the same
`Idempotency-Key` is answered.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse

from reelforge.accounts.keys import ApiKey
from reelforge.api.auth import require_key
from reelforge.api.deps import get_create_path, get_services
from reelforge.api.dialect import Dialect, FastRead, dialect_router
from reelforge.api.dialects.aivideomaker.protocol import (
    AIVideoMakerCancelled,
    AIVideoMakerCreated,
    AIVideoMakerError,
    AIVideoMakerStatus,
    AIVideoMakerTask,
    AIVideoMakerTaskList,
    ImageToVideoBody,
    LongVideoBody,
    TextToVideoBody,
)
from reelforge.api.dialects.aivideomaker.translate import (
    DIALECT,
    STATUS_NAMES,
    build_submission,
    render_error,
    render_task,
)
from reelforge.api.links import links_for
from reelforge.api.ratelimit import READ_LIMITS
from reelforge.domain import jsontext
from reelforge.domain.catalog import ModelSpec
from reelforge.domain.errors import ReelforgeError, invalid
from reelforge.domain.task import TaskStatus
from reelforge.edge.create import CreatePath
from reelforge.edge.idempotency import HEADER as IDEMPOTENCY_HEADER
from reelforge.edge.idempotency import Idempotency
from reelforge.media.fetch import check_url
from reelforge.services import Services
from reelforge.tasks.reads import Polled

PREFIX = "/api/v1"
AUTH_HINT = "the `key` header (`key: rf_...`)"
MAX_LIST = 1000
MAX_OFFSET = 2**31 - 1
"""Past any real list, and far below the 64-bit integer the database takes (2^63 was a 500)."""


def _error(description: str) -> dict[str, Any]:
    return {"model": AIVideoMakerError, "description": description}


AUTH_ERROR: dict[int | str, dict[str, Any]] = {
    401: _error("Missing, unknown or revoked key (AUTH_FAILED)"),
    "default": _error("Any other failure in the same shape (INTERNAL_ERROR: details go to the server log)"),
}
"""Every route's. `default` also stands in for FastAPI's generic 422: a bad request here is a 400."""
QUERY_ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_ERROR,
    404: _error("Unknown task, or another key's (TASK_NOT_FOUND)"),
    429: _error("Over the query rate limit (RATE_LIMITED); `Retry-After` says when to retry"),
}
CREATE_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("Unknown model (INVALID_MODEL) or a missing or invalid field (INVALID_PAYLOAD, `field` names it)"),
    **AUTH_ERROR,
    402: _error("Insufficient credits (INSUFFICIENT_CREDITS); nothing is written"),
    409: _error("An `Idempotency-Key` reused with a different request (IDEMPOTENCY_CONFLICT)"),
    413: _error("Body over the server's limit (PAYLOAD_TOO_LARGE)"),
    503: _error("The queue is full (QUEUE_FULL); retry later"),
}

_BODIES = (TextToVideoBody, ImageToVideoBody, LongVideoBody)
CREATE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": (
            "The body of the model named in the path: text_to_video models (t2v, t2v_v3) take "
            "AIVideoMakerTextToVideo, image_to_video models (i2v, i2v_v3) AIVideoMakerImageToVideo, "
            "long_video models (lv) AIVideoMakerLongVideo. Unknown fields are ignored."
        ),
        "content": {"application/json": {"schema": {"anyOf": [body.model_json_schema() for body in _BODIES]}}},
    }
}
"""Declared by hand because the body depends on the path's model: each alternative is a protocol model's
schema (flat, so inline). The handler validates the one its model takes, with that model's rules."""


async def model_spec(model: str, services: Services = Depends(get_services)) -> ModelSpec:
    """The model named in the path (INVALID_MODEL, listing what exists, before the body is looked at)."""
    return services.tasks.model(model)


async def raw_body(request: Request) -> bytes:
    """The request body; parsed in the handler, off the event loop (a data URI can be megabytes)."""
    return await request.body()


def parse_json(raw: bytes) -> Any:
    """Any content type is read as JSON, as it always was (clients often send `curl -d` without one)."""
    try:
        return jsontext.loads(raw)
    except ValueError as exc:
        raise invalid("the request body must be valid JSON" + jsontext.why(exc)) from None


def check_webhook(url: str, services: Services) -> None:
    """The `webhookUrl` header: a public http(s) URL (resolves the host: call it off the event loop)."""
    try:
        check_url(url, allow_private=services.settings.private_webhook_urls_allowed, purpose="webhookUrl header")
    except ReelforgeError as exc:
        exc.field = "webhookUrl"
        raise


def task_links(request: Request, task_id: str) -> dict[str, str]:
    links = links_for(request)
    return {
        "responseUrl": links.url(f"{PREFIX}/tasks/{task_id}"),
        "statusUrl": links.url(f"{PREFIX}/tasks/{task_id}/status"),
        "cancelUrl": links.url(f"{PREFIX}/tasks/{task_id}/cancel"),
    }


def status_answer(status: TaskStatus, progress: int) -> JSONResponse:
    """A pre-shaped body (the declared model documents it; validating two fields per poll costs more)."""
    return JSONResponse({"status": STATUS_NAMES[status], "progress": progress})


def details_answer(request: Request, polled: Polled) -> JSONResponse:
    assert polled.task is not None
    return JSONResponse(render_task(polled.task, links_for(request)))


FAST_READS = (
    FastRead(f"{PREFIX}/tasks/{{}}/status", lambda _, p: status_answer(p.status, p.progress), render_error),
    FastRead(f"{PREFIX}/tasks/{{}}", details_answer, render_error, full=True),
)


def build_router() -> APIRouter:
    router = dialect_router(render_error, prefix=PREFIX, tags=["AIVideoMaker v1"], auth_hint=AUTH_HINT)

    @router.post(
        "/generate/{model}",
        summary="Create a generation task",
        response_model=AIVideoMakerCreated,
        responses=CREATE_ERRORS,
        openapi_extra=CREATE_BODY,
    )
    def create(
        request: Request,
        key: ApiKey = Depends(require_key),
        spec: ModelSpec = Depends(model_spec),
        raw: bytes = Depends(raw_body),
        services: Services = Depends(get_services),
        path: CreatePath = Depends(get_create_path),
        webhook_url: str | None = Header(None, alias="webhookUrl", description="Callback URL for task status"),
        idempotency_key: str | None = Header(
            None, alias=IDEMPOTENCY_HEADER, description="A repeat with the same key and body returns the same task"
        ),
    ) -> dict[str, Any]:
        payload = parse_json(raw)
        if webhook_url:
            check_webhook(webhook_url, services)  # before anything is stored
        idempotency = Idempotency.of(idempotency_key, DIALECT, spec.name, payload, webhook_url)
        task = path.create(key.id, lambda session: build_submission(payload, spec, session, webhook_url), idempotency)
        return {"status": "SUBMITTED", "taskId": task.id, **task_links(request, task.id)}

    @router.get(
        "/tasks",
        summary="List your tasks, newest first",
        dependencies=READ_LIMITS,
        response_model=AIVideoMakerTaskList,
        response_model_exclude_unset=True,
        responses={400: _error("limit outside 1-1000 or offset outside 0-2^31-1 (INVALID_PAYLOAD)"), **QUERY_ERRORS},
    )
    def list_tasks(
        request: Request,
        limit: int = Query(MAX_LIST, json_schema_extra={"minimum": 1, "maximum": MAX_LIST}),
        offset: int = Query(0, json_schema_extra={"minimum": 0, "maximum": MAX_OFFSET}),
        key: ApiKey = Depends(require_key),
        services: Services = Depends(get_services),
    ) -> dict[str, Any]:
        if not 1 <= limit <= MAX_LIST:
            raise invalid(f"limit must be 1-{MAX_LIST}", "/limit")
        if not 0 <= offset <= MAX_OFFSET:
            raise invalid(f"offset must be 0-{MAX_OFFSET}", "/offset")
        links = links_for(request)
        return {"tasks": [render_task(t, links) for t in services.tasks.recent(key.id, limit=limit, offset=offset)]}

    @router.get(
        "/tasks/{task_id}",
        summary="Task details",
        dependencies=READ_LIMITS,
        response_model=AIVideoMakerTask,
        response_model_exclude_unset=True,
        responses=QUERY_ERRORS,
    )
    def details(
        task_id: str, request: Request, key: ApiKey = Depends(require_key), services: Services = Depends(get_services)
    ) -> dict[str, Any]:
        return render_task(services.tasks.get(task_id, key.id), links_for(request))  # the fast path: details_answer

    @router.get(
        "/tasks/{task_id}/status",
        summary="Task status (for polling)",
        dependencies=READ_LIMITS,
        responses={200: {"model": AIVideoMakerStatus}, **QUERY_ERRORS},
    )
    def status(
        task_id: str, key: ApiKey = Depends(require_key), services: Services = Depends(get_services)
    ) -> JSONResponse:
        """Declared for OpenAPI and answering what is not a clean success; the fast read path
        (`api/fastread.py`, `status_answer`) answers the polls themselves."""
        status, progress = services.tasks.status_of(task_id, key.id)
        return status_answer(status, progress)

    @router.put(
        "/tasks/{task_id}/cancel",
        summary="Cancel a task that is still SUBMITTED",
        response_model=AIVideoMakerCancelled,
        responses={
            **AUTH_ERROR,
            404: QUERY_ERRORS[404],
            409: _error("The task is no longer SUBMITTED (INVALID_STATE)"),
        },
    )
    def cancel(
        task_id: str, request: Request, key: ApiKey = Depends(require_key), services: Services = Depends(get_services)
    ) -> dict[str, Any]:
        task = services.tasks.cancel(task_id, key.id)
        request.app.state.executor.cancel(task_id)
        return {"status": STATUS_NAMES[task.status], "taskId": task.id}

    return router


AIVIDEOMAKER_DIALECT = Dialect(
    DIALECT, (build_router(),), render_error, render_task, prefixes=(PREFIX,), reads=FAST_READS
)

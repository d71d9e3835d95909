"""The console's task routes: every task of the key across dialects (filters, paging), one task, its live
progress as server-sent events, cancel (an admin key cancels any task) and re-run with the same inputs."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from reelforge.accounts.keys import ApiKey
from reelforge.api.auth import require_key
from reelforge.api.console.common import console_router, errors
from reelforge.api.console.render import ConsoleTask, render_task
from reelforge.api.deps import get_create_path, get_services
from reelforge.api.links import links_for
from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.domain.request import STORED_PREFIX, GenerationRequest
from reelforge.domain.task import Task, TaskStatus
from reelforge.edge.create import CreatePath
from reelforge.edge.uploads import UploadSession
from reelforge.services import Services
from reelforge.tasks import browse
from reelforge.tasks.service import Submission

router = console_router(tags=["console"])

EVENT_POLL_SECONDS = 0.25
"""How often the event stream looks at the task: progress on screen lags the engine by at most this."""
EVENT_PING_SECONDS = 15.0
EVENT_MAX_SECONDS = 3600.0
"""A stream ends after this long even if the task has not (the page reconnects)."""
MAX_PAGE = 100
Status = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class TaskPage(BaseModel):
    tasks: list[ConsoleTask]
    total: int = Field(description="Tasks matching the filters")
    limit: int
    offset: int


def _scope(key: ApiKey, scope: str) -> str | None:
    """The key whose tasks to read: the caller's own, or (admin keys, `scope=all`) every key's."""
    if scope == "all":
        if not key.admin:
            raise ReelforgeError(ErrorCode.FORBIDDEN, "scope=all needs an admin key")
        return None
    return key.id


@router.get(
    "/tasks",
    summary="The key's tasks across every dialect, newest first, with filters and paging",
    response_model=TaskPage,
    responses=errors(400, 401, 403),
)
def list_tasks(
    request: Request,
    status: list[Status] | None = Query(None, description="Only these statuses (repeat the parameter)"),
    model: str | None = Query(None, description="Only this catalog model"),
    dialect: str | None = Query(None, description="Only tasks created through this API"),
    with_output: bool = Query(False, alias="withOutput", description="Only tasks that produced a video"),
    scope: Literal["own", "all"] = Query("own", description="`all`: every key's tasks (admin keys only)"),
    limit: int = Query(20, ge=1, le=MAX_PAGE),
    offset: int = Query(0, ge=0, le=1_000_000),
    key: ApiKey = Depends(require_key),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    page = browse.task_page(
        services.db,
        _scope(key, scope),
        statuses=list(status) if status else None,
        model=model,
        dialect=dialect,
        succeeded_with_output=with_output,
        limit=limit,
        offset=offset,
    )
    links = links_for(request)
    return {"tasks": [render_task(t, links) for t in page.rows], "total": page.total, "limit": limit, "offset": offset}


def _visible(services: Services, task_id: str, key: ApiKey) -> Task:
    """The task if the key may see it: its own, or any for an admin key; TASK_NOT_FOUND otherwise."""
    return browse.task_of(services.db, task_id, None if key.admin else key.id)


@router.get("/tasks/{task_id}", summary="One task", response_model=ConsoleTask, responses=errors(401, 404))
def get_task(
    task_id: str, request: Request, key: ApiKey = Depends(require_key), services: Services = Depends(get_services)
) -> dict[str, Any]:
    return render_task(_visible(services, task_id, key), links_for(request))


def _event(name: str, data: Any) -> str:
    return f"event: {name}\ndata: {json.dumps(data, default=str, separators=(',', ':'))}\n\n"


@router.get(
    "/tasks/{task_id}/events",
    summary="Live progress: server-sent events, one `task` event per change, until the task ends",
    responses={
        200: {
            "description": "`text/event-stream`: `event: task` with the task (as GET /tasks/{id}) whenever its "
            "status, phase or progress changes; the stream ends after the terminal one",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **errors(401, 404),
    },
)
async def task_events(task_id: str, request: Request, services: Services = Depends(get_services)) -> StreamingResponse:
    def first() -> tuple[ApiKey, Task]:
        key = require_key(request)
        return key, _visible(services, task_id, key)

    key, task = await asyncio.to_thread(first)
    links = links_for(request)

    async def events() -> AsyncIterator[str]:
        current: Task | None = task
        seen: tuple[Any, ...] | None = None
        started = last_sent = time.monotonic()
        while True:
            if current is not None:
                state = (current.status, current.phase, current.progress, current.updated_at)
                if state != seen:
                    seen = state
                    last_sent = time.monotonic()
                    yield _event("task", render_task(current, links))
                if current.status.is_terminal:
                    return
            if time.monotonic() - started > EVENT_MAX_SECONDS or await request.is_disconnected():
                return
            if time.monotonic() - last_sent > EVENT_PING_SECONDS:
                last_sent = time.monotonic()
                yield ": ping\n\n"
            await asyncio.sleep(EVENT_POLL_SECONDS)
            try:
                current = await asyncio.to_thread(_visible, services, task_id, key)
            except ReelforgeError:  # deleted meanwhile
                yield _event("gone", {"id": task_id})
                return

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"cache-control": "no-cache", "x-accel-buffering": "no"}
    )


@router.post(
    "/tasks/{task_id}/cancel",
    summary="Cancel a task: a queued one at once (refunded), a running one at the engine's next check",
    response_model=ConsoleTask,
    responses=errors(401, 404, 409),
)
def cancel_task(
    task_id: str, request: Request, key: ApiKey = Depends(require_key), services: Services = Depends(get_services)
) -> dict[str, Any]:
    task = _visible(services, task_id, key)
    cancelled = services.tasks.cancel(task.id, task.key_id, allow_running=True)
    request.app.state.executor.cancel(task.id)
    return render_task(cancelled, links_for(request))


def _copy_inputs(services: Services, task: Task, session: UploadSession) -> GenerationRequest:
    """The request with each uploaded input copied into this create's session, so the new task owns its
    files (the old task's are deleted with its outputs)."""
    text = json.dumps(task.request.model_dump(mode="json"))
    for key in task.request.stored_keys():
        if not services.storage.exists(key):
            raise ReelforgeError(
                ErrorCode.INVALID_STATE,
                f"The uploaded inputs of task {task.id} were deleted when its output expired; submit the request "
                "again with the files",
            )
        copy = session.put(services.storage.read_bytes(key), key.rsplit("/", 1)[-1])
        text = text.replace(json.dumps(STORED_PREFIX + key), json.dumps(copy.source))
    return GenerationRequest.model_validate(json.loads(text))


@router.post(
    "/tasks/{task_id}/rerun",
    status_code=201,
    summary="Create a new task with the same model and inputs (priced and debited like any create)",
    response_model=ConsoleTask,
    responses=errors(401, 402, 404, 409, 503),
)
def rerun_task(
    task_id: str,
    request: Request,
    key: ApiKey = Depends(require_key),
    services: Services = Depends(get_services),
    create_path: CreatePath = Depends(get_create_path),
) -> dict[str, Any]:
    task = browse.task_of(services.db, task_id, key.id)  # only the owner re-runs: it is their credits

    def build(session: UploadSession) -> Submission:
        return Submission(
            model=task.model,
            request=_copy_inputs(services, task, session),
            input=task.input,
            dialect=task.dialect,
            extra={**task.extra, "rerunOf": task.id},
        )

    return render_task(create_path.create(key.id, build), links_for(request))


__all__ = ["TaskStatus", "router"]

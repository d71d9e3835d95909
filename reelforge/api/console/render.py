"""The console's shape of a task: every field the task core keeps, whatever dialect created it.

Dialects render a task in their contract's words; the console shows one account's tasks from all of them,
so it uses the canonical fields. `extra` and `details` carry whatever else a task holds (stage timings,
phases and the like that other parts add), which the console shows generically as key/value rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from reelforge.domain.errors import ErrorCode
from reelforge.domain.task import Task
from reelforge.edge.links import Links, expired_message


class ConsoleOutput(BaseModel):
    videoUrl: str | None = Field(description="Signed link to the MP4; null once the output expired")
    thumbnailUrl: str | None
    width: int
    height: int
    fps: float
    duration: float = Field(description="Seconds")


class ConsoleTaskError(BaseModel):
    code: str
    message: str


class ConsoleTask(BaseModel):
    """One task, from whichever dialect created it."""

    id: str
    keyId: str
    model: str
    dialect: str = Field(description="The API that created it: aivideomaker, avs, openai_videos, actions ...")
    kind: str
    status: str = Field(description="queued | running | succeeded | failed | cancelled")
    phase: str | None
    progress: int
    cost: int = Field(description="Credits debited (refunded when it failed or was cancelled)")
    attempts: int
    cancelRequested: bool
    createdAt: datetime
    updatedAt: datetime
    startedAt: datetime | None
    completedAt: datetime | None
    expiresAt: datetime | None = Field(description="When the output's files are deleted; null: kept")
    expired: bool = Field(description="The output expired: no links any more (the API answers OUTPUT_EXPIRED)")
    error: ConsoleTaskError | None
    input: dict[str, Any] = Field(description="What the caller sent (data URIs shortened)")
    request: dict[str, Any] = Field(description="The canonical request: prompt, size, fps, duration, seed ...")
    output: ConsoleOutput | None
    extra: dict[str, Any]
    details: dict[str, Any] = Field(
        default_factory=dict, description="Anything else the task core reports about the task, shown as is"
    )


CORE_FIELDS = {
    "id",
    "key_id",
    "model",
    "dialect",
    "request",
    "input",
    "status",
    "progress",
    "cost",
    "attempts",
    "created_at",
    "updated_at",
    "started_at",
    "completed_at",
    "output",
    "error_code",
    "error_message",
    "webhook_url",
    "cancel_requested",
    "extra",
    "phase",
    "expires_at",
    "outputs_expired",
}


def _request_summary(task: Task) -> dict[str, Any]:
    request = task.request.model_dump(mode="json", exclude_none=True, exclude={"extra"})
    if request.get("template") is not None:
        request["template"] = "(template JSON; see input)"
    return {k: v for k, v in request.items() if v not in ([], {}, None)}


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def render_task(task: Task, links: Links) -> dict[str, Any]:
    expired = links.expired(task)
    error = {"code": task.error_code, "message": task.error_message or ""} if task.error_code else None
    if expired:
        error = {"code": ErrorCode.OUTPUT_EXPIRED.value, "message": expired_message(task)}
    output = None
    if task.output is not None:
        output = {
            "videoUrl": links.video_url(task),
            "thumbnailUrl": links.thumbnail_url(task),
            "width": task.output.width,
            "height": task.output.height,
            "fps": task.output.fps,
            "duration": task.output.duration,
        }
    # Fields other parts of reelforge add to Task later (stage timings, ...) show up without a change here.
    details = {
        name: _jsonable(getattr(task, name))
        for name in getattr(type(task), "__dataclass_fields__", {})
        if name not in CORE_FIELDS and getattr(task, name) not in (None, {}, [])
    }
    return {
        "id": task.id,
        "keyId": task.key_id,
        "model": task.model,
        "dialect": task.dialect,
        "kind": task.request.kind.value,
        "status": task.status.value,
        "phase": task.phase,
        "progress": task.progress,
        "cost": task.cost,
        "attempts": task.attempts,
        "cancelRequested": task.cancel_requested,
        "createdAt": task.created_at,
        "updatedAt": task.updated_at,
        "startedAt": task.started_at,
        "completedAt": task.completed_at,
        "expiresAt": task.expires_at,
        "expired": expired,
        "error": error,
        "input": _jsonable(task.input),
        "request": _request_summary(task),
        "output": output,
        "extra": _jsonable(task.extra),
        "details": details,
    }

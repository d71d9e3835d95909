"""Conversion between `tasks` rows and `Task` objects, and the JSON snapshot used in events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from reelforge.domain.request import GenerationRequest
from reelforge.domain.task import Task, TaskOutput, TaskStatus


def row_to_task(row: Any, request: GenerationRequest | None = None) -> Task:
    """The task of a `tasks` row; `request`, when given, is the row's request already validated (a task's
    request never changes after submit, so a reader may keep it: validating it is most of this cost)."""
    return Task(
        id=row.id,
        key_id=row.key_id,
        model=row.model,
        dialect=row.dialect,
        request=request if request is not None else GenerationRequest.model_validate(row.request),
        input=row.input,
        status=TaskStatus(row.status),
        progress=row.progress,
        cost=row.cost,
        attempts=row.attempts,
        created_at=row.created_at,
        updated_at=row.updated_at,
        started_at=row.started_at,
        completed_at=row.completed_at,
        output=TaskOutput.from_dict(row.output) if row.output else None,
        error_code=row.error_code,
        error_message=row.error_message,
        webhook_url=row.webhook_url,
        cancel_requested=bool(row.cancel_requested),
        extra=row.extra or {},
        phase=row.phase,
        expires_at=row.expires_at,
        outputs_expired=bool(row.outputs_expired),
        timings=row.timings,
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def task_snapshot(task: Task) -> dict[str, Any]:
    """A JSON-safe copy of the task as it is now; webhook bodies are rendered from it later."""
    return {
        "id": task.id,
        "key_id": task.key_id,
        "model": task.model,
        "dialect": task.dialect,
        "request": task.request.model_dump(mode="json"),
        "input": task.input,
        "status": task.status.value,
        "progress": task.progress,
        "cost": task.cost,
        "attempts": task.attempts,
        "created_at": _iso(task.created_at),
        "updated_at": _iso(task.updated_at),
        "started_at": _iso(task.started_at),
        "completed_at": _iso(task.completed_at),
        "output": task.output.to_dict() if task.output else None,
        "error_code": task.error_code,
        "error_message": task.error_message,
        "webhook_url": task.webhook_url,
        "cancel_requested": task.cancel_requested,
        "extra": task.extra,
        "phase": task.phase,
        "expires_at": _iso(task.expires_at),
        "outputs_expired": task.outputs_expired,
        "timings": task.timings,
    }


def snapshot_to_task(data: dict[str, Any]) -> Task:
    def when(name: str) -> datetime | None:
        return datetime.fromisoformat(data[name]) if data.get(name) else None

    return Task(
        id=data["id"],
        key_id=data["key_id"],
        model=data["model"],
        dialect=data["dialect"],
        request=GenerationRequest.model_validate(data["request"]),
        input=data["input"],
        status=TaskStatus(data["status"]),
        progress=data["progress"],
        cost=data["cost"],
        attempts=data["attempts"],
        created_at=when("created_at"),  # type: ignore[arg-type]
        updated_at=when("updated_at"),  # type: ignore[arg-type]
        started_at=when("started_at"),
        completed_at=when("completed_at"),
        output=TaskOutput.from_dict(data["output"]) if data.get("output") else None,
        error_code=data.get("error_code"),
        error_message=data.get("error_message"),
        webhook_url=data.get("webhook_url"),
        cancel_requested=data.get("cancel_requested", False),
        extra=data.get("extra") or {},
        phase=data.get("phase"),
        expires_at=when("expires_at"),
        outputs_expired=data.get("outputs_expired", False),
        timings=data.get("timings"),
    )

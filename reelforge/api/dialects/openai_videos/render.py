"""How reelforge's tasks and errors look in this contract: the video object and OpenAI's error body."""

from __future__ import annotations

from typing import Any

from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.domain.task import Task, TaskStatus
from reelforge.edge.links import Links, expired_message

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
    402: "insufficient_quota",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    410: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    503: "service_unavailable",
}


def render_error(exc: ReelforgeError) -> dict[str, Any]:
    """`{"error": {message, type, param, code}}` (`protocol.OpenAIError`)."""
    return {
        "error": {
            "message": exc.message,
            "type": ERROR_TYPES.get(exc.http_status, "server_error"),
            "param": exc.field,
            "code": exc.code.value,
        }
    }


def seconds_text(task: Task) -> str:
    seconds = task.output.duration if task.output else task.request.duration
    return f"{seconds:.2f}".rstrip("0").rstrip(".")


def render_video(task: Task, links: Links) -> dict[str, Any]:
    """The video object (`protocol.OpenAIVideo`); also the webhook body of this dialect's tasks."""
    video_url = links.video_url(task)
    remixed_from = task.extra.get("remixed_from")
    error: dict[str, Any] | None = None
    if task.status == TaskStatus.CANCELLED:
        error = {"code": "cancelled", "message": "the video was cancelled"}
    elif task.error_code:
        error = {"code": task.error_code, "message": task.error_message}
    elif links.expired(task):  # still `completed`, as OpenAI keeps it; the error says the file is gone
        error = {"code": ErrorCode.OUTPUT_EXPIRED.value, "message": expired_message(task)}
    video: dict[str, Any] = {
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
    if task.timings:  # addition: where the finished video's seconds went (docs/gpu.md, "Stage timings")
        video["timings"] = task.timings
    return video

"""The MCP tasks extension (`io.modelcontextprotocol/tasks`, the ext-tasks spec of 2026-07-28) on the
low-level server.

The `mcp` SDK (2.3) names the extension but implements none of it, so its messages are here: a
`generate_video` or `render_template` call whose request declares the extension (2026-07-28 protocol,
`_meta` client capabilities) is answered at once with a `CreateTaskResult` (`resultType: "task"`) for the
reelforge task, which is durable already: `tasks/get` and `tasks/cancel` work from any process serving
the same database, after a restart, on any API server behind a balancer (stateless, no sticky sessions).
Clients without the extension keep the tool's own `wait`.

Statuses: queued and running are `working` (the `statusMessage` says which, with the queue position or
the phase and percentage), succeeded is `completed` with the tool's answer inlined (the video link, and
the MP4 when small), cancelled is `cancelled`, and failed is `failed` with a JSON-RPC error whose `data`
carries the reelforge error code and the task as `get_video` shows it. `pollIntervalMs` is the poll advice
of every surface (`domain.polling`, from the model's expected duration); `ttlMs` runs to the output's
expiry (null when outputs are kept forever).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types.jsonrpc import INTERNAL_ERROR, INVALID_PARAMS, MISSING_REQUIRED_CLIENT_CAPABILITY
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ConfigDict, Field

from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.domain.task import Task, TaskStatus

EXTENSION = "io.modelcontextprotocol/tasks"
TASK_TOOLS = frozenset({"generate_video", "render_template"})
STATUSES = {
    TaskStatus.QUEUED: "working",
    TaskStatus.RUNNING: "working",
    TaskStatus.SUCCEEDED: "completed",
    TaskStatus.FAILED: "failed",
    TaskStatus.CANCELLED: "cancelled",
}


class TaskParams(types.RequestParams):
    """`tasks/get` and `tasks/cancel` params."""

    model_config = ConfigDict(populate_by_name=True)

    task_id: str = Field(alias="taskId", min_length=1)


def declared(ctx: ServerRequestContext[Any]) -> bool:
    """Whether this request's client declared the extension (only possible on the 2026-07-28 protocol)."""
    if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
        return False
    capabilities = ctx.session.client_capabilities
    return bool(capabilities and capabilities.extensions and EXTENSION in capabilities.extensions)


def missing_capability() -> MCPError:
    return MCPError(
        MISSING_REQUIRED_CLIENT_CAPABILITY,
        "Missing required client capability: declare io.modelcontextprotocol/tasks to use tasks/*",
        {"requiredCapabilities": {"extensions": {EXTENSION: {}}}},
    )


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def ttl_ms(task: Task, output_ttl_seconds: int, now: datetime | None = None) -> int | None:
    """Milliseconds from creation until the task's outputs are deleted; None when they are kept forever.

    Once the task ended, its `expires_at`; before that, a lower bound (now plus the output TTL), which grows
    as the task runs, as the spec allows.
    """
    if task.expires_at is not None:
        return max(0, int((task.expires_at - task.created_at).total_seconds() * 1000))
    if output_ttl_seconds <= 0 or task.status.is_terminal:
        return None
    now = now or datetime.now(UTC)
    return int(((now - task.created_at).total_seconds() + output_ttl_seconds) * 1000)


def task_fields(
    task: Task,
    *,
    status_message: str,
    poll_interval_ms: int | None,
    output_ttl_seconds: int,
) -> dict[str, Any]:
    """The `Task` shape of the spec for a reelforge task."""
    fields: dict[str, Any] = {
        "taskId": task.id,
        "status": STATUSES[task.status],
        "statusMessage": status_message,
        "createdAt": _iso(task.created_at),
        "lastUpdatedAt": _iso(task.updated_at),
        "ttlMs": ttl_ms(task, output_ttl_seconds),
    }
    if poll_interval_ms is not None:
        fields["pollIntervalMs"] = poll_interval_ms
    return fields


def failure(task: Task, snapshot: dict[str, Any]) -> dict[str, Any]:
    """A failed task's JSON-RPC error: reelforge's code and message, and the task as get_video shows it."""
    code = task.error_code or ErrorCode.INTERNAL_ERROR.value
    return {
        "code": INTERNAL_ERROR,
        "message": f"{code}: {task.error_message or 'the task failed'}",
        "data": {"error": {"code": code, "message": task.error_message or ""}, "task": snapshot},
    }


TaskReader = Callable[[ServerRequestContext[Any], str], Awaitable[dict[str, Any]]]
TaskCanceller = Callable[[ServerRequestContext[Any], str], Awaitable[None]]


def install(server: Server[Any], read: TaskReader, cancel: TaskCanceller) -> None:
    """Serve `tasks/get` and `tasks/cancel` and advertise the extension (`server/discover`)."""

    async def get(ctx: ServerRequestContext[Any], params: TaskParams) -> dict[str, Any]:
        if not declared(ctx):
            raise missing_capability()
        try:
            return await read(ctx, params.task_id)
        except ReelforgeError as exc:
            raise _protocol_error("Failed to retrieve task", exc) from None

    async def cancel_task(ctx: ServerRequestContext[Any], params: TaskParams) -> dict[str, Any]:
        if not declared(ctx):
            raise missing_capability()
        try:
            await cancel(ctx, params.task_id)
        except ReelforgeError as exc:
            if exc.code != ErrorCode.INVALID_STATE:  # already ended: acknowledged, as the spec allows
                raise _protocol_error("Failed to cancel task", exc) from None
        return {}

    server.add_request_handler("tasks/get", TaskParams, get)
    server.add_request_handler("tasks/cancel", TaskParams, cancel_task)
    server.extensions[EXTENSION] = {}


def _protocol_error(what: str, exc: ReelforgeError) -> MCPError:
    """TASK_NOT_FOUND (also another key's task) is -32602 as the spec says; anything else -32603."""
    code = INVALID_PARAMS if exc.code == ErrorCode.TASK_NOT_FOUND else INTERNAL_ERROR
    return MCPError(code, f"{what}: {exc.code}: {exc.message}", {"code": str(exc.code)})

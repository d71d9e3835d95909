"""A client side of the MCP tasks extension for the tests, on the `mcp` SDK's own `Client` extension hooks.

The SDK (2.3) has no tasks client, so this is the least a host needs: claim `resultType: "task"` on
`tools/call`, then `tasks/get` every `pollIntervalMs` until the task ends, and `tasks/cancel`. `polls`
records each `tasks/get` answer, and the time it came, so tests can check what a host would see.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import anyio
import mcp_types as types
from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
from mcp.client.session import ClientSession
from pydantic import ConfigDict, Field

EXTENSION = "io.modelcontextprotocol/tasks"
MODERN = "2026-07-28"


class CreatedTask(types.Result):
    """`CreateTaskResult`: the seed state of a task."""

    model_config = ConfigDict(extra="allow")

    result_type: Literal["task"] = Field(alias="resultType")
    task_id: str = Field(alias="taskId")
    status: str
    poll_interval_ms: int | None = Field(None, alias="pollIntervalMs")
    ttl_ms: int | None = Field(alias="ttlMs")


class TaskState(types.Result):
    """A `tasks/get` answer (`DetailedTask`), every field kept."""

    model_config = ConfigDict(extra="allow")


class TaskParams(types.RequestParams):
    task_id: str = Field(alias="taskId")


class GetTask(types.Request[TaskParams, Literal["tasks/get"]]):
    method: Literal["tasks/get"] = "tasks/get"
    name_param = "taskId"


class CancelTask(types.Request[TaskParams, Literal["tasks/cancel"]]):
    method: Literal["tasks/cancel"] = "tasks/cancel"
    name_param = "taskId"


async def get_task(session: ClientSession, task_id: str) -> dict[str, Any]:
    answer = await session.send_request(GetTask(params=TaskParams(taskId=task_id)), TaskState)
    return answer.model_dump(by_alias=True, mode="json", exclude_none=True)


async def cancel_task(session: ClientSession, task_id: str) -> dict[str, Any]:
    answer = await session.send_request(CancelTask(params=TaskParams(taskId=task_id)), TaskState)
    return answer.model_dump(by_alias=True, mode="json", exclude_none=True)


class TasksClient(ClientExtension):
    """Declares the extension and resolves task answers by polling, as a host does."""

    identifier = EXTENSION

    def __init__(self, timeout: float = 120.0) -> None:
        self.timeout = timeout
        self.created: list[CreatedTask] = []
        self.polls: list[tuple[float, dict[str, Any]]] = []

    def claims(self) -> list[ResultClaim[Any]]:
        return [ResultClaim(result_type="task", model=CreatedTask, resolve=self.resolve)]

    async def resolve(self, created: CreatedTask, ctx: ClaimContext) -> types.CallToolResult:
        self.created.append(created)
        deadline = time.monotonic() + self.timeout
        interval = created.poll_interval_ms or 1000
        while time.monotonic() < deadline:
            await anyio.sleep(interval / 1000)
            state = await get_task(ctx.session, created.task_id)
            self.polls.append((time.monotonic(), state))
            if state["status"] == "completed":
                return types.CallToolResult.model_validate(state["result"])
            if state["status"] in ("failed", "cancelled"):
                text = state.get("error", {}).get("message") or state["status"]
                return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=True)
            interval = state.get("pollIntervalMs") or interval
        raise TimeoutError(f"task {created.task_id} still running after {self.timeout} s")

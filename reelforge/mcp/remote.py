"""`reelforge mcp --url`: the stdio MCP server as a client of a reelforge somewhere else.

An agent host that only speaks stdio (or runs on a laptop while reelforge runs on a GPU box or a fleet)
launches `reelforge mcp` with `REELFORGE_BASE_URL` and `REELFORGE_API_KEY`; every tool call then goes to
that server's HTTP API for agents, `{base}/mcp`, with the key: no local data directory, no database, no
worker. Each call is one stateless streamable-HTTP exchange on the 2026-07-28 protocol (that endpoint
keeps no sessions), so the remote server's answers come back exactly: the same snapshots, error codes,
video links and embedded MP4s, its progress notifications and heartbeats forwarded as they arrive, and
its tasks (`io.modelcontextprotocol/tasks`) passed through when the local client declares the extension:
`tasks/get` and `tasks/cancel` go to the remote, whose tasks are durable.

The base URL, key and timeouts resolve as the SDK's (`reelforge.client.ClientConfig`); a failure to reach
the server is the tool error `UPSTREAM_UNAVAILABLE`, a refused key `AUTH_FAILED`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any, Literal, cast

import httpx2
import mcp_types as types
from mcp import Client
from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
from mcp.client.streamable_http import streamable_http_client
from mcp.server import Server, ServerRequestContext
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError
from pydantic import ConfigDict, Field

from reelforge import __version__
from reelforge.client.config import ClientConfig
from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.mcp import tasks
from reelforge.mcp.server import INSTRUCTIONS, error_result

log = logging.getLogger(__name__)

MODERN = "2026-07-28"
READ_TIMEOUT = 120.0  # seconds of silence on a call's stream; the remote sends a heartbeat every 15 s


class AnyResult(types.Result):
    """Whatever the remote answers (a `CreateTaskResult`, a task), every field kept."""

    model_config = ConfigDict(extra="allow")


class CreatedTask(types.Result):
    """A remote `CreateTaskResult`, passed on as it came."""

    model_config = ConfigDict(extra="allow")

    result_type: Literal["task"] = Field(alias="resultType")


class TasksPassThrough(ClientExtension):
    """Declares the tasks extension to the remote and accepts its task answers unresolved: the local
    client polls them itself, through this server's `tasks/get`."""

    identifier = tasks.EXTENSION

    def claims(self) -> list[ResultClaim[Any]]:
        return [ResultClaim(result_type="task", model=CreatedTask, resolve=_unresolved)]


async def _unresolved(created: CreatedTask, ctx: ClaimContext) -> types.CallToolResult:
    raise RuntimeError("a passed-through task is resolved by the local client, not here")


class _GetTask(types.Request[tasks.TaskParams, Literal["tasks/get"]]):
    method: Literal["tasks/get"] = "tasks/get"
    name_param = "taskId"


class _CancelTask(types.Request[tasks.TaskParams, Literal["tasks/cancel"]]):
    method: Literal["tasks/cancel"] = "tasks/cancel"
    name_param = "taskId"


class Remote:
    """One remote reelforge's `/mcp`, called with one API key."""

    def __init__(self, config: ClientConfig) -> None:
        if not config.api_key:
            raise ReelforgeError(ErrorCode.AUTH_FAILED, "a remote reelforge needs an API key")
        self.config = config
        self.endpoint = f"{config.base_url}/mcp"

    @contextlib.asynccontextmanager
    async def client(self, *, with_tasks: bool = False) -> AsyncIterator[Client]:
        """One exchange with the remote; its HTTP refusals (401, 429, 5xx) become reelforge errors.

        The SDK's transport reports a non-JSON-RPC error answer only as "Server returned an error response",
        so the HTTP status is read off the response itself (an httpx event hook).
        """
        http = create_mcp_http_client(
            headers={"Authorization": f"Bearer {self.config.api_key}"},
            timeout=httpx2.Timeout(self.config.timeout, read=READ_TIMEOUT),
        )
        refusals: list[int] = []

        async def note(response: httpx2.Response) -> None:
            if response.status_code >= 400:
                refusals.append(response.status_code)

        http.event_hooks["response"].append(note)
        extensions = [TasksPassThrough()] if with_tasks else None
        try:
            async with (
                http,
                Client(
                    streamable_http_client(self.endpoint, http_client=http), mode=MODERN, extensions=extensions
                ) as client,
            ):
                yield client
        except BaseException as exc:  # the SDK's task groups wrap a transport's failure in exception groups
            refused = [status for status in refusals if status in (401, 429) or status >= 500]
            leaf = _leaf(exc)
            mapped = self._refused(refused[-1]) if refused else self._unreachable(leaf)
            if mapped is not None:
                raise mapped from None
            if isinstance(leaf, MCPError | ReelforgeError) and leaf is not exc:
                raise leaf from None  # the remote's JSON-RPC error, out of the transport's task groups
            raise

    def _unreachable(self, exc: BaseException) -> ReelforgeError | None:
        """A failure to reach the remote as a reelforge error (None: not one of those)."""
        if isinstance(exc, httpx2.TransportError | OSError):
            where = self.config.base_url
            return ReelforgeError(
                ErrorCode.UPSTREAM_UNAVAILABLE, f"cannot reach reelforge at {where}: {type(exc).__name__}"
            )
        return None

    def _refused(self, status: int) -> ReelforgeError:
        if status == 401:
            return ReelforgeError(
                ErrorCode.AUTH_FAILED, f"{self.config.base_url} refused the API key (set REELFORGE_API_KEY)"
            )
        if status == 429:
            return ReelforgeError(ErrorCode.RATE_LIMITED, f"{self.config.base_url} is rate limiting this key")
        return ReelforgeError(ErrorCode.UPSTREAM_UNAVAILABLE, f"{self.endpoint} answered HTTP {status}")

    async def list_tools(self) -> types.ListToolsResult:
        async with self.client() as client:
            return await client.list_tools()

    async def call_tool(
        self, name: str, arguments: dict[str, Any] | None, *, with_tasks: bool, progress: Any
    ) -> types.CallToolResult | dict[str, Any]:
        async with self.client(with_tasks=with_tasks) as client:
            result = await client.session.call_tool(
                name, arguments, progress_callback=progress, allow_claimed=with_tasks
            )
        if isinstance(result, types.CallToolResult):
            return result
        return _plain(result)

    async def task_request(self, method: Literal["tasks/get", "tasks/cancel"], task_id: str) -> dict[str, Any]:
        request_type = _GetTask if method == "tasks/get" else _CancelTask
        async with self.client(with_tasks=True) as client:
            answer = await client.session.send_request(
                request_type(params=tasks.TaskParams(task_id=task_id)), AnyResult
            )
        return _plain(answer)


def _plain(result: types.Result) -> dict[str, Any]:
    """A remote result as a dict to answer with; the remote's `_meta` stamp gives way to this server's."""
    body = result.model_dump(by_alias=True, mode="json", exclude_none=True)
    body.pop("_meta", None)
    return body


def build_remote_server(remote: Remote) -> Server[Any]:
    """The stdio server of `reelforge mcp --url`: the remote's tools, answers and tasks, passed through."""

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        try:
            return await remote.list_tools()
        except ReelforgeError as exc:
            raise MCPError(types.INTERNAL_ERROR, f"{exc.code}: {exc.message}") from None

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult | dict[str, Any]:
        async def forward(progress: float, total: float | None, message: str | None) -> None:
            try:
                await ctx.session.report_progress(progress, total, message)
            except Exception:  # the local client went away; the remote task goes on regardless
                log.debug("mcp: progress notification not delivered", exc_info=True)

        try:
            return await remote.call_tool(
                params.name, params.arguments, with_tasks=tasks.declared(ctx), progress=forward
            )
        except ReelforgeError as exc:
            return error_result(exc)
        except MCPError as exc:
            return error_result(ReelforgeError(ErrorCode.INTERNAL_ERROR, f"remote MCP error: {exc.error.message}"))

    async def read_task(ctx: ServerRequestContext[Any], task_id: str) -> dict[str, Any]:
        return await _relay(remote, "tasks/get", task_id)

    async def cancel_task(ctx: ServerRequestContext[Any], task_id: str) -> None:
        await _relay(remote, "tasks/cancel", task_id)

    server: Server[Any] = Server(
        "reelforge",
        version=__version__,
        title="reelforge video generation",
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=cast(Any, call_tool),  # a `CreateTaskResult` is a dict the SDK's annotation leaves out
    )
    tasks.install(server, read_task, cancel_task)
    return server


async def _relay(remote: Remote, method: Literal["tasks/get", "tasks/cancel"], task_id: str) -> dict[str, Any]:
    """A `tasks/*` request answered by the remote; its JSON-RPC errors keep their code and message."""
    try:
        return await remote.task_request(method, task_id)
    except ReelforgeError as exc:
        raise MCPError(types.INTERNAL_ERROR, f"{exc.code}: {exc.message}", {"code": str(exc.code)}) from None


def _leaf(exc: BaseException) -> BaseException:
    """The first exception inside (nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc

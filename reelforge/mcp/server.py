"""The reelforge MCP server: one tool registry, served over stdio (`reelforge mcp`) or HTTP (`/mcp`).

Built on the `mcp` SDK's low-level `Server` rather than its decorator API because the tools' input
schemas are the HTTP API's own pydantic models (`schemas.py`), not schemas inferred from function
signatures. Every failure becomes a tool error carrying a stable reelforge code (`INSUFFICIENT_CREDITS:
...`, and `structuredContent.error`), so an agent can branch on it and the server never crashes on bad input.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

import mcp_types as types
from mcp.server import Server, ServerRequestContext
from pydantic import BaseModel, ValidationError

from reelforge import __version__
from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.domain.task import TaskStatus
from reelforge.mcp import tasks
from reelforge.mcp.schemas import (
    CancelVideoArgs,
    GenerateVideoArgs,
    GetVideoArgs,
    ListModelsArgs,
    ModelList,
    RenderOptions,
    RenderTemplateArgs,
    ToolErrorInfo,
    ToolSpec,
    VideoSnapshot,
)
from reelforge.mcp.tools import Caller, Outcome, Progress, VideoTools, describe, video_blob

log = logging.getLogger(__name__)

INSTRUCTIONS = (
    "reelforge makes MP4 videos. Call list_models to see what this server offers, generate_video to start a "
    "task (pass wait=true to block while progress streams, up to 30 minutes), get_video to check on it or "
    "wait longer (never sooner than the poll_after_ms an answer gives), and cancel_video to stop it (credits "
    "are refunded). Clients that declare the io.modelcontextprotocol/tasks extension get a task at once "
    "from generate_video and render_template (tasks/get, tasks/cancel). render_template renders an AVS "
    "Template JSON v1 (timed video, image, text and audio blocks) with the compositor. Errors carry stable "
    "codes such as INSUFFICIENT_CREDITS, INVALID_PAYLOAD, TASK_NOT_FOUND and INVALID_STATE."
)

TOOLS: dict[str, ToolSpec] = {
    spec.name: spec
    for spec in (
        ToolSpec(
            name="generate_video",
            title="Generate a video",
            arguments=GenerateVideoArgs,
            result=VideoSnapshot,
            description="Start a video task from a prompt (scene text-to-video, image-to-video, video-to-video "
            "or ad-video, or a catalog model). Answers with the task_id at once; with wait=true it "
            "streams progress and answers when the video is done or wait_ms runs out.",
        ),
        ToolSpec(
            name="get_video",
            title="Get a video task",
            arguments=GetVideoArgs,
            result=VideoSnapshot,
            description="A task's status, progress and, once done, its video and thumbnail URLs. With wait_ms "
            "it waits up to that long for the task to end, streaming progress meanwhile.",
        ),
        ToolSpec(
            name="cancel_video",
            title="Cancel a video task",
            arguments=CancelVideoArgs,
            result=VideoSnapshot,
            description="Cancel a queued or running task; its credits are refunded.",
        ),
        ToolSpec(
            name="list_models",
            title="List models",
            arguments=ListModelsArgs,
            result=ModelList,
            description="The models this server offers, with their kind, engine, durations and price.",
        ),
        ToolSpec(
            name="render_template",
            title="Render a template",
            arguments=RenderTemplateArgs,
            result=VideoSnapshot,
            description="Render an AVS Template JSON v1 (video, image, text and audio blocks on one timeline, "
            "media by URL) to an MP4 with the compositor. Same wait options as generate_video.",
        ),
    )
}

# How each tool's arguments are parsed (render_template's template is checked by `parse_template`, which
# reports JSON pointers, so the shell model leaves it as a plain object).
PARSERS: dict[str, type[BaseModel]] = {"render_template": RenderOptions}

CallerResolver = Callable[[ServerRequestContext[Any]], Caller]


def tool_definition(spec: ToolSpec) -> types.Tool:
    read_only = spec.name in ("get_video", "list_models")
    return types.Tool(
        name=spec.name,
        title=spec.title,
        description=spec.description,
        input_schema=spec.arguments.model_json_schema(by_alias=True),
        output_schema=spec.result.model_json_schema(by_alias=True),
        annotations=types.ToolAnnotations(
            title=spec.title,
            read_only_hint=read_only,
            destructive_hint=spec.name == "cancel_video",
            idempotent_hint=read_only,
            open_world_hint=False,
        ),
    )


def error_result(exc: ReelforgeError) -> types.CallToolResult:
    info = ToolErrorInfo(code=str(exc.code), message=exc.message, field=exc.field, retry_after=exc.retry_after)
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=f"{info.code}: {info.message}")],
        structured_content={"error": info.model_dump(exclude_none=True)},
        is_error=True,
    )


def parse_arguments(model: type[BaseModel], arguments: dict[str, Any] | None) -> Any:
    """Validate with the tool's model; the first problem becomes INVALID_PAYLOAD with a JSON pointer."""
    try:
        return model.model_validate(arguments or {})
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        pointer = "/" + "/".join(str(part) for part in first["loc"])
        raise ReelforgeError(ErrorCode.INVALID_PAYLOAD, f"{pointer}: {first['msg']}", field=pointer) from None


def success_result(outcome: Outcome) -> types.CallToolResult:
    structured = outcome.snapshot.model_dump(mode="json")
    content: list[Any] = [types.TextContent(type="text", text=_summary(outcome.snapshot))]
    if outcome.video is not None:
        assert isinstance(outcome.snapshot, VideoSnapshot) and outcome.snapshot.video_url
        content.append(
            types.EmbeddedResource(
                type="resource",
                resource=types.BlobResourceContents(
                    uri=outcome.snapshot.video_url, mime_type="video/mp4", blob=video_blob(outcome.video)
                ),
            )
        )
    return types.CallToolResult(content=content, structured_content=structured)


def _summary(snapshot: BaseModel) -> str:
    """A line for hosts that show text only; the full answer is in structuredContent."""
    if isinstance(snapshot, ModelList):
        return "Models: " + ", ".join(f"{m.name} ({m.kind})" for m in snapshot.models)
    assert isinstance(snapshot, VideoSnapshot)
    line = f"Task {snapshot.task_id} ({snapshot.model}) is {snapshot.status}, {snapshot.progress}%"
    if snapshot.video_url:
        line += f". Video: {snapshot.video_url}"
    if snapshot.error:
        line += f". Error {snapshot.error.code}: {snapshot.error.message}"
    if snapshot.wait_cut_short:
        line += ". The wait ended before the task did (it keeps running)"
    if snapshot.poll_after_ms is not None:
        line += f". Do not poll sooner than {snapshot.poll_after_ms} ms"
    return line


def build_server(tools: VideoTools, resolve_caller: CallerResolver) -> Server[Any]:
    """The MCP server; `resolve_caller` says who a request comes from (a fixed key on stdio, headers on HTTP)."""

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        names = [name for name in TOOLS if name != "render_template" or tools.compositor_available()]
        return types.ListToolsResult(tools=[tool_definition(TOOLS[name]) for name in names])

    async def read_task(ctx: ServerRequestContext[Any], task_id: str, caller: Caller | None = None) -> dict[str, Any]:
        """The extension's `Task` for a reelforge task, with the tool's answer once it ended."""
        task, outcome = await tools.task(task_id, caller or resolve_caller(ctx))
        snapshot = outcome.snapshot
        assert isinstance(snapshot, VideoSnapshot)
        working = not task.status.is_terminal
        fields = tasks.task_fields(
            task,
            status_message=describe(task.status.value, task.phase, task.progress, snapshot.queue_position)
            if working
            else _summary(snapshot),
            poll_interval_ms=snapshot.poll_after_ms,
            output_ttl_seconds=tools.services.settings.output_ttl,
        )
        if task.status == TaskStatus.SUCCEEDED:
            fields["result"] = success_result(outcome).model_dump(by_alias=True, mode="json", exclude_none=True)
        elif task.status == TaskStatus.FAILED:
            fields["error"] = tasks.failure(task, snapshot.model_dump(mode="json"))
        return fields

    async def cancel_task(ctx: ServerRequestContext[Any], task_id: str) -> None:
        await tools.cancel_task(task_id, resolve_caller(ctx))

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult | dict[str, Any]:
        spec = TOOLS.get(params.name)
        try:
            if spec is None:
                raise ReelforgeError(ErrorCode.NOT_FOUND, f"no tool {params.name!r}; tools: {', '.join(TOOLS)}")
            caller = resolve_caller(ctx)
            args = parse_arguments(PARSERS.get(spec.name, spec.arguments), params.arguments)
            if spec.name in tasks.TASK_TOOLS and tasks.declared(ctx):
                created = (await tools.created(spec.name, args, caller)).snapshot
                assert isinstance(created, VideoSnapshot)
                return {"resultType": "task", **await read_task(ctx, created.task_id, caller)}
            handler: Callable[[Any, Caller, Progress], Awaitable[Outcome]] = getattr(tools, spec.name)
            return success_result(await handler(args, caller, _progress_sender(ctx)))
        except ReelforgeError as exc:
            log.info("mcp tool %s: %s %s", params.name, exc.code, exc.message)
            return error_result(exc)
        except Exception:
            log.exception("mcp tool %s crashed", params.name)
            return error_result(
                ReelforgeError(
                    ErrorCode.INTERNAL_ERROR, f"{params.name} failed unexpectedly; the server log has details"
                )
            )

    server: Server[Any] = Server(
        "reelforge",
        version=__version__,
        title="reelforge video generation",
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        # a `CreateTaskResult` (a plain dict) is an extension's result shape the SDK's annotation leaves out
        on_call_tool=cast(Any, call_tool),
    )
    tasks.install(server, read_task, cancel_task)
    return server


def _progress_sender(ctx: ServerRequestContext[Any]) -> Progress:
    async def send(percent: float, message: str) -> None:
        try:
            await ctx.session.report_progress(percent, 100, message)
        except Exception:  # a client that went away must not fail the tool (the task goes on regardless)
            log.debug("mcp: progress notification not delivered", exc_info=True)

    return send

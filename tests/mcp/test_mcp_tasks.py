"""The MCP tasks extension (`io.modelcontextprotocol/tasks`) through the `mcp` SDK's own `Client`.

In-process (the `api` fixture: no workers, tasks stay queued) for the protocol cases: a task at once,
`tasks/get` mapping, `tasks/cancel` with its refund, the errors; and against a real `reelforge serve`
over HTTP for the whole flow, ending in a video link that downloads an MP4.
"""

from __future__ import annotations

import io
from typing import Any

import anyio
import av
import httpx
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

from reelforge.mcp.server import build_server
from reelforge.mcp.tools import Caller, VideoTools
from tests.asgi import InProcessApp
from tests.conftest import ServerProcess
from tests.mcp.tasks_client import MODERN, TasksClient, cancel_task, get_task

PROMPT = {"prompt": "a lighthouse at dusk", "options": {"aspectRatio": "16:9", "duration": 5}}


def in_process(api: InProcessApp, key: str) -> tuple[Any, Caller]:
    tools = VideoTools(api.services, api.client.app.state.create_path, embed_max_bytes=0)  # type: ignore[attr-defined]
    caller = Caller(key_id=api.key_id(key), base_url="http://testserver/")
    return build_server(tools, lambda ctx: caller), caller


def test_a_declaring_client_gets_a_task_at_once_and_can_cancel_it(api: InProcessApp) -> None:
    key = api.new_key(100)
    server, _ = in_process(api, key)

    async def scenario() -> dict[str, Any]:
        async with Client(server, mode=MODERN, extensions=[TasksClient()]) as client:
            session = client.session
            first = await session.call_tool("generate_video", PROMPT, allow_claimed=True)
            second = await session.call_tool("generate_video", PROMPT, allow_claimed=True)
            before = await get_task(session, second.task_id)
            acknowledged = await cancel_task(session, second.task_id)
            after = await get_task(session, second.task_id)
            again = await cancel_task(session, second.task_id)  # already ended: still acknowledged
            template = {"version": "1", "blocks": [{"type": "text", "text": "Hi", "start": 0, "duration": 2}]}
            rendered = await session.call_tool("render_template", {"template": template}, allow_claimed=True)
            listed = await session.call_tool("list_models", {})  # not a task tool: answered as always
            return {
                "first": first,
                "before": before,
                "ack": acknowledged,
                "after": after,
                "again": again,
                "rendered": rendered,
                "listed": listed,
            }

    charged = api.balance(key)
    seen = anyio.run(scenario)
    first = seen["first"]
    assert first.result_type == "task" and first.status == "working"
    assert first.statusMessage == "queued (position 1 in the queue)"  # type: ignore[attr-defined]
    assert first.poll_interval_ms == 2000  # a 5 s draft model, queued: domain.polling's floor
    assert first.ttl_ms is not None and first.ttl_ms >= 7 * 24 * 3600 * 1000  # the output TTL, from creation
    assert seen["before"]["status"] == "working" and seen["before"]["statusMessage"].startswith("queued (position 2")
    assert seen["before"]["resultType"] == "complete" and seen["before"]["pollIntervalMs"] == 2000
    assert seen["ack"]["resultType"] == "complete" and set(seen["ack"]) <= {"resultType", "_meta"}
    assert seen["after"]["status"] == "cancelled" and "pollIntervalMs" not in seen["after"]
    assert seen["again"]["resultType"] == "complete"
    assert seen["rendered"].result_type == "task" and seen["rendered"].status == "working"
    assert not seen["listed"].is_error and seen["listed"].structured_content["models"]
    assert api.balance(key) == charged - 5 - 5  # t2v 5 (the cancelled one refunded), avs-json render 5
    assert api.executor.cancelled == [second_id(seen)]
    assert len(api.executor.dispatched) == 3


def second_id(seen: dict[str, Any]) -> str:
    return seen["after"]["taskId"]


def test_tasks_errors_and_clients_without_the_extension(api: InProcessApp) -> None:
    key = api.new_key(100)
    server, _ = in_process(api, key)

    async def with_tasks() -> tuple[MCPError, Any]:
        async with Client(server, mode=MODERN, extensions=[TasksClient()]) as client:
            with pytest.raises(MCPError) as missing:
                await get_task(client.session, "no-such-task")
            refused = await client.session.call_tool("generate_video", {"prompt": "x", "colour": "red"})
            return missing.value, refused

    async def without_tasks() -> tuple[Any, MCPError]:
        async with Client(server, mode=MODERN) as client:
            plain = await client.call_tool("generate_video", PROMPT)
            with pytest.raises(MCPError) as undeclared:
                await get_task(client.session, plain.structured_content["task_id"])
            return plain, undeclared.value

    missing, refused = anyio.run(with_tasks)
    assert missing.error.code == -32602 and "TASK_NOT_FOUND" in missing.error.message
    # a refused create is a tool error, as without the extension; no task, no credit
    assert refused.is_error and refused.structured_content["error"]["code"] == "INVALID_PAYLOAD"
    plain, undeclared = anyio.run(without_tasks)
    assert not plain.is_error and plain.structured_content["status"] == "queued"
    assert plain.structured_content["poll_after_ms"] == 2000 and plain.structured_content["wait_cut_short"] is None
    assert undeclared.error.code == -32021
    assert undeclared.error.data == {"requiredCapabilities": {"extensions": {"io.modelcontextprotocol/tasks": {}}}}
    assert api.balance(key) == 95


def test_tasks_flow_over_http_ends_with_the_video(server: ServerProcess) -> None:
    tasks = TasksClient(timeout=120)

    async def scenario() -> Any:
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {server.key}"})
        transport = streamable_http_client(f"{server.url}/mcp", http_client=http)
        async with http, Client(transport, extensions=[tasks]) as client:  # auto: server/discover
            assert client.protocol_version == MODERN
            discovered = client.server_capabilities.extensions or {}
            return discovered, await client.call_tool("generate_video", PROMPT)

    discovered, result = anyio.run(scenario)
    assert "io.modelcontextprotocol/tasks" in discovered  # advertised in server/discover
    [created] = tasks.created
    assert created.status == "working" and created.poll_interval_ms and created.poll_interval_ms >= 1000
    statuses = [state["status"] for _, state in tasks.polls]
    assert statuses[-1] == "completed" and set(statuses[:-1]) <= {"working"}
    final = tasks.polls[-1][1]
    assert final["taskId"] == created.task_id and "pollIntervalMs" not in final
    assert final["ttlMs"] == pytest.approx(7 * 24 * 3600 * 1000, rel=0.01)
    assert "Video: http" in final["statusMessage"]
    # the inlined result is the tool's answer: the snapshot with a link that serves the MP4
    snapshot = result.structured_content
    assert not result.is_error and snapshot["status"] == "succeeded" and snapshot["task_id"] == created.task_id
    video = httpx.get(snapshot["video_url"], timeout=30)
    assert video.status_code == 200
    with av.open(io.BytesIO(video.content)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (1280, 720)
        assert float(container.duration / 1_000_000) == pytest.approx(5.0, abs=0.1)


def test_a_running_then_failed_task_through_tasks_get(api: InProcessApp) -> None:
    """A worker's view stood in by the task core itself: claimed, in a silent phase, then failed."""
    key = api.new_key(100)
    server, _ = in_process(api, key)
    work = api.services.work

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        async with Client(server, mode=MODERN, extensions=[TasksClient()]) as client:
            created = await client.session.call_tool("generate_video", PROMPT, allow_claimed=True)
            assert work.claim("worker-1", task_id=created.task_id) is not None
            work.set_phase(created.task_id, "loading")
            running = await get_task(client.session, created.task_id)
            work.fail(created.task_id, "ENGINE_ERROR", "the model ran out of memory", owner="worker-1")
            return running, await get_task(client.session, created.task_id)

    start = api.balance(key)
    running, failed = anyio.run(scenario)
    assert running["status"] == "working" and running["statusMessage"] == "running: loading (no percentage yet)"
    assert running["pollIntervalMs"] == 1200  # a quarter of the 5 s expected, nothing done yet
    assert failed["status"] == "failed" and "pollIntervalMs" not in failed and "result" not in failed
    assert failed["error"]["code"] == -32603
    assert failed["error"]["message"] == "ENGINE_ERROR: the model ran out of memory"
    assert failed["error"]["data"]["error"] == {"code": "ENGINE_ERROR", "message": "the model ran out of memory"}
    assert failed["error"]["data"]["task"]["status"] == "failed"
    assert "ENGINE_ERROR" in failed["statusMessage"]
    assert api.balance(key) == start  # charged 5, refunded once

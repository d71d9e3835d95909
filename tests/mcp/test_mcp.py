"""The MCP server through the `mcp` SDK's own client: streamable HTTP at `/mcp` and stdio (`reelforge mcp`)."""

from __future__ import annotations

import base64
import contextlib
import io
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import av
import httpx
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from tests.conftest import ServerProcess, server_env
from tests.helpers import balance, eventually

TEXT_TEMPLATE = {
    "version": "1",
    "name": "card",
    "blocks": [
        {"type": "text", "text": "Hello agents", "start": 0, "duration": 2},
    ],
}


def run(coro_fn, *args: Any) -> Any:
    return anyio.run(coro_fn, *args)


@contextlib.asynccontextmanager
async def http_session(server: ServerProcess, key: str | None = None) -> AsyncIterator[ClientSession]:
    client = create_mcp_http_client(headers={"Authorization": f"Bearer {key or server.key}"})
    async with (
        client,
        streamable_http_client(f"{server.url}/mcp", http_client=client) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


@contextlib.asynccontextmanager
async def stdio_session(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "reelforge", "mcp", *args], env=server_env(data_dir, env)
    )
    with open(data_dir / "mcp-stderr.log", "a") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            yield session


class ProgressLog:
    def __init__(self) -> None:
        self.events: list[tuple[float, float | None, str | None]] = []

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.events.append((progress, total, message))


def probe(data: bytes) -> tuple[float, int, int, float]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        return float(container.duration / 1_000_000), stream.width, stream.height, float(stream.average_rate)


# ------------------------------------------------------------------ HTTP


def test_http_lists_tools_with_the_api_schemas(server: ServerProcess) -> None:
    async def scenario() -> Any:
        async with http_session(server) as session:
            return await session.list_tools()

    tools = {tool.name: tool for tool in run(scenario).tools}
    assert set(tools) == {"generate_video", "get_video", "cancel_video", "list_models", "render_template"}
    generate = tools["generate_video"].input_schema
    assert {"prompt", "scene", "model", "imageInput", "options", "wait", "wait_ms"} <= set(generate["properties"])
    assert generate["required"] == ["prompt"]
    assert "blocks" in str(tools["render_template"].input_schema)
    assert tools["get_video"].output_schema["properties"]["status"]["enum"] == [
        "queued",
        "running",
        "succeeded",
        "failed",
        "cancelled",
    ]


def test_http_generate_waits_with_progress_then_get(server: ServerProcess) -> None:
    progress = ProgressLog()

    async def scenario() -> tuple[Any, Any]:
        async with http_session(server) as session:
            made = await session.call_tool(
                "generate_video",
                {
                    "prompt": "a lighthouse at dusk",
                    "options": {"aspectRatio": "16:9", "duration": 5, "seed": 7},
                    "wait": True,
                    "wait_ms": 120_000,
                },
                progress_callback=progress,
            )
            again = await session.call_tool("get_video", {"task_id": made.structured_content["task_id"]})
            return made, again

    made, again = run(scenario)
    assert not made.is_error, made.content
    snapshot = made.structured_content
    assert snapshot["status"] == "succeeded" and snapshot["progress"] == 100
    assert snapshot["model"] == "t2v" and snapshot["credits"] > 0
    assert (snapshot["width"], snapshot["height"], snapshot["duration"]) == (1280, 720, 5.0)
    # progress notifications arrived, increasing, ending at 100
    values = [event[0] for event in progress.events]
    assert len(values) >= 2 and values == sorted(set(values)) and values[-1] == 100
    assert all(event[1] == 100 for event in progress.events)
    # the URL downloads the MP4; small outputs are embedded too
    video = httpx.get(snapshot["video_url"], timeout=30)
    assert video.status_code == 200
    assert probe(video.content)[:3] == (pytest.approx(5.0, abs=0.1), 1280, 720)
    embedded = [block for block in made.content if block.type == "resource"]
    assert snapshot["embedded"] is (len(embedded) == 1)
    if embedded:
        assert embedded[0].resource.mime_type == "video/mp4"
        assert base64.b64decode(embedded[0].resource.blob) == video.content
    assert again.structured_content["status"] == "succeeded"
    assert again.structured_content["video_url"].startswith(server.url)


def test_http_errors_are_tool_errors_with_stable_codes(server: ServerProcess) -> None:
    async def scenario() -> list[Any]:
        async with http_session(server) as session:
            return [
                await session.call_tool("get_video", {"task_id": "no-such-task"}),
                await session.call_tool("generate_video", {"prompt": "x", "options": {"duration": 7}}),
                await session.call_tool("generate_video", {"prompt": "x", "colour": "red"}),
                await session.call_tool(
                    "render_template",
                    {
                        "template": {
                            "version": "1",
                            "blocks": [{"type": "text", "text": "hi", "start": 0, "duration": 1, "fadeIn": 2}],
                        }
                    },
                ),
                await session.call_tool("list_models", {}),  # the server is still answering afterwards
            ]

    missing, bad_duration, unknown_field, bad_template, models = run(scenario)
    assert missing.is_error and missing.structured_content["error"]["code"] == "TASK_NOT_FOUND"
    assert missing.content[0].text.startswith("TASK_NOT_FOUND: ")
    assert bad_duration.is_error and bad_duration.structured_content["error"]["code"] == "INVALID_PAYLOAD"
    assert bad_duration.structured_content["error"]["field"] == "/options/duration"
    assert unknown_field.structured_content["error"] == {
        "code": "INVALID_PAYLOAD",
        "message": "/colour: Extra inputs are not permitted",
        "field": "/colour",
    }
    assert bad_template.structured_content["error"]["field"].startswith("/template/blocks/0/")
    assert not models.is_error
    assert "t2v" in {model["name"] for model in models.structured_content["models"]}


def test_http_needs_an_api_key(server: ServerProcess) -> None:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    headers = {"accept": "application/json, text/event-stream"}
    for auth in ({}, {"authorization": "Bearer rf_wrong"}):
        response = httpx.post(f"{server.url}/mcp", json=body, headers=headers | auth)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "AUTH_FAILED"
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert "rf_wrong" not in server.log()


def test_http_cancel_refunds_and_render_template(start_server) -> None:  # type: ignore[no-untyped-def]
    idle = start_server(workers=0)  # nothing runs, so the task is still queued when cancelled

    async def scenario() -> tuple[Any, Any, Any, Any]:
        async with http_session(idle) as session:
            made = await session.call_tool("generate_video", {"prompt": "a slow river"})
            before = await session.call_tool("get_video", {"task_id": made.structured_content["task_id"]})
            cancelled = await session.call_tool("cancel_video", {"task_id": made.structured_content["task_id"]})
            again = await session.call_tool("cancel_video", {"task_id": made.structured_content["task_id"]})
            return made, before, cancelled, again

    start = balance(idle, idle.key_id)[0]
    made, before, cancelled, again = run(scenario)
    assert made.structured_content["status"] == "queued" and made.structured_content["credits"] > 0
    assert before.structured_content["status"] == "queued"
    assert cancelled.structured_content["status"] == "cancelled"
    assert again.is_error and again.structured_content["error"]["code"] == "INVALID_STATE"
    assert balance(idle, idle.key_id)[0] == start  # charged, then refunded once


def test_http_render_template(server: ServerProcess) -> None:
    async def scenario() -> Any:
        async with http_session(server) as session:
            return await session.call_tool(
                "render_template",
                {
                    "template": TEXT_TEMPLATE,
                    "output": {"aspectRatio": "1:1", "quality": "draft"},
                    "wait": True,
                    "wait_ms": 120_000,
                },
            )

    result = run(scenario)
    assert not result.is_error, result.content
    snapshot = result.structured_content
    assert snapshot["status"] == "succeeded" and snapshot["model"] == "avs-json"
    video = httpx.get(snapshot["video_url"], timeout=30).content
    duration, width, height, _ = probe(video)
    assert duration == pytest.approx(2.0, abs=0.1) and width == height


# ------------------------------------------------------------------ stdio


def test_stdio_standalone_generates_with_progress_and_embeds(tmp_path: Path) -> None:
    """`reelforge mcp` alone (its own worker, the dev key): an agent host's whole setup."""
    progress = ProgressLog()

    async def scenario() -> tuple[Any, Any, Any]:
        async with stdio_session(tmp_path, "--workers", "1") as session:
            tools = await session.list_tools()
            made = await session.call_tool(
                "generate_video",
                {
                    "prompt": "paper boats on a pond",
                    "options": {"aspectRatio": "9:16", "duration": 5},
                    "wait": True,
                    "wait_ms": 120_000,
                },
                progress_callback=progress,
            )
            got = await session.call_tool("get_video", {"task_id": made.structured_content["task_id"], "wait_ms": 1000})
            return tools, made, got

    tools, made, got = run(scenario)
    assert "generate_video" in {tool.name for tool in tools.tools}
    assert not made.is_error, made.content
    assert made.structured_content["status"] == "succeeded"
    assert progress.events and progress.events[-1][0] == 100
    embedded = [block for block in made.content if block.type == "resource"]
    assert len(embedded) == 1  # a 5 s 720p draft is well under the 2 MiB default
    duration, width, height, fps = probe(base64.b64decode(embedded[0].resource.blob))
    assert (width, height, fps) == (720, 1280, 24) and duration == pytest.approx(5.0, abs=0.1)
    assert got.structured_content["status"] == "succeeded"
    # no server to link to: the outputs' paths on this machine and their file:// URIs, not dead links
    snapshot = made.structured_content
    video_path = Path(snapshot["video_path"])
    assert video_path.is_file() and video_path.is_relative_to(tmp_path)
    assert snapshot["video_url"] == video_path.as_uri() == embedded[0].resource.uri
    assert video_path.read_bytes() == base64.b64decode(embedded[0].resource.blob)
    assert Path(snapshot["thumbnail_path"]).is_file() and snapshot["thumbnail_url"].startswith("file://")


def test_stdio_with_an_api_key_cancel_and_errors(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "shared", workers=0).start()  # a server sharing the data dir, no workers
    try:

        async def scenario() -> tuple[Any, Any, Any]:
            async with stdio_session(
                server.data_dir, "--workers", "0", env={"REELFORGE_API_KEY": server.key}
            ) as session:
                made = await session.call_tool("generate_video", {"prompt": "a red kite"})
                cancelled = await session.call_tool("cancel_video", {"task_id": made.structured_content["task_id"]})
                missing = await session.call_tool("get_video", {"task_id": "nope"})
                return made, cancelled, missing

        start = balance(server, server.key_id)[0]
        made, cancelled, missing = run(scenario)
        assert made.structured_content["status"] == "queued"
        assert cancelled.structured_content["status"] == "cancelled"
        assert missing.structured_content["error"]["code"] == "TASK_NOT_FOUND"
        assert balance(server, server.key_id)[0] == start
        # the task made over stdio is the same key's task over HTTP
        answer = httpx.get(
            f"{server.url}/v1/videos/{made.structured_content['task_id']}",
            headers={"authorization": f"Bearer {server.key}"},
        )
        assert answer.status_code == 200 and answer.json()["status"] == "failed"  # OpenAI's word for cancelled
    finally:
        server.stop()


def test_stdio_refuses_a_bad_key(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reelforge", "mcp", "--workers", "0"],
        env=server_env(tmp_path, {"REELFORGE_API_KEY": "rf_not_a_key"}),
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Invalid or revoked API key" in result.stderr and "rf_not_a_key" not in result.stderr
    assert result.stdout == ""


def test_http_expired_output_says_so(start_server) -> None:  # type: ignore[no-untyped-def]
    short_lived = start_server(workers=1, env={"REELFORGE_OUTPUT_TTL": "3", "REELFORGE_EXPIRY_SWEEP_INTERVAL": "1"})

    async def generate() -> Any:
        async with http_session(short_lived) as session:
            return await session.call_tool("generate_video", {"prompt": "a snowman", "wait": True, "wait_ms": 120_000})

    async def get(task_id: str) -> Any:
        async with http_session(short_lived) as session:
            return await session.call_tool("get_video", {"task_id": task_id})

    made = run(generate)

    def expired() -> Any:
        later = run(get, made.structured_content["task_id"])
        error = later.structured_content.get("error") or {}
        return later if error.get("code") == "OUTPUT_EXPIRED" else None

    later = eventually(expired, timeout=30, interval=0.5, what="the output to expire")
    assert made.structured_content["video_url"] and made.structured_content["expires_at"]
    snapshot = later.structured_content
    assert not later.is_error and snapshot["status"] == "succeeded"
    assert snapshot["video_url"] is None and snapshot["embedded"] is False
    assert snapshot["error"]["code"] == "OUTPUT_EXPIRED" and "expired" in snapshot["error"]["message"]
    assert httpx.get(made.structured_content["video_url"]).status_code == 410

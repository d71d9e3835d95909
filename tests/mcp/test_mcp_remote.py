"""`reelforge mcp --url` / `REELFORGE_BASE_URL`: the stdio server as a client of a reelforge elsewhere.

The agent side runs on its own data directory, which stays empty (no database, no worker, no files): every
tool goes to the remote `reelforge serve` over HTTP with the key. The `mcp` SDK's own client drives it over
stdio: generate with wait and progress, cancel, errors, and the tasks extension passed through.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.shared.exceptions import MCPError

from tests.conftest import ServerProcess, server_env
from tests.helpers import balance
from tests.mcp.tasks_client import MODERN, TasksClient, get_task
from tests.mcp.test_mcp import ProgressLog, probe, stdio_session


def remote_env(remote: ServerProcess, key: str | None = None) -> dict[str, str]:
    return {"REELFORGE_BASE_URL": remote.url, "REELFORGE_API_KEY": key or remote.key}


def nothing_local(agent_dir: Path) -> None:
    """The agent's data directory holds nothing reelforge made (only the test's own stderr log)."""
    made = sorted(p.name for p in agent_dir.rglob("*") if p.name != "mcp-stderr.log") if agent_dir.exists() else []
    assert made == []


def test_stdio_remote_generates_with_progress_and_answers_errors(tmp_path: Path, start_server: Any) -> None:
    remote = start_server(workers=1)
    agent = tmp_path / "agent"
    agent.mkdir()
    progress = ProgressLog()

    async def scenario() -> tuple[Any, ...]:
        async with stdio_session(agent, env=remote_env(remote)) as session:
            tools = await session.list_tools()
            made = await session.call_tool(
                "generate_video",
                {"prompt": "a kite over dunes", "options": {"duration": 5}, "wait": True, "wait_ms": 120_000},
                progress_callback=progress,
            )
            missing = await session.call_tool("get_video", {"task_id": "no-such-task"})
            bad = await session.call_tool("generate_video", {"prompt": "x", "options": {"duration": 7}})
            models = await session.call_tool("list_models", {})
            return tools, made, missing, bad, models

    tools, made, missing, bad, models = anyio.run(scenario)
    assert {tool.name for tool in tools.tools} >= {"generate_video", "get_video", "cancel_video", "render_template"}
    assert not made.is_error, made.content
    snapshot = made.structured_content
    assert snapshot["status"] == "succeeded" and snapshot["wait_cut_short"] is False
    assert snapshot["video_url"].startswith(remote.url)  # the remote's own link
    video = httpx.get(snapshot["video_url"], timeout=30)
    assert video.status_code == 200 and probe(video.content)[1:3] == (1280, 720)
    values = [event[0] for event in progress.events]
    assert len(values) >= 2 and values == sorted(set(values)) and values[-1] == 100  # forwarded as they came
    assert progress.events[0][2].startswith(("queued", "running"))
    assert missing.is_error and missing.structured_content["error"]["code"] == "TASK_NOT_FOUND"
    assert bad.structured_content["error"]["field"] == "/options/duration"
    assert "t2v" in {model["name"] for model in models.structured_content["models"]}
    # the task is the remote's, for the same key
    answer = httpx.get(
        f"{remote.url}/v1/videos/{snapshot['task_id']}", headers={"authorization": f"Bearer {remote.key}"}
    )
    assert answer.status_code == 200 and answer.json()["status"] == "completed"
    nothing_local(agent)


def test_stdio_remote_cancel_refunds(tmp_path: Path, start_server: Any) -> None:
    idle = start_server(workers=0)  # nothing runs there: the task is still queued when cancelled
    agent = tmp_path / "agent"
    agent.mkdir()

    async def scenario() -> tuple[Any, Any]:
        async with stdio_session(agent, env=remote_env(idle)) as session:
            made = await session.call_tool("generate_video", {"prompt": "a slow river"})
            cancelled = await session.call_tool("cancel_video", {"task_id": made.structured_content["task_id"]})
            return made, cancelled

    start = balance(idle, idle.key_id)[0]
    made, cancelled = anyio.run(scenario)
    assert made.structured_content["status"] == "queued" and made.structured_content["poll_after_ms"] >= 2000
    assert made.structured_content["queue_position"] == 1
    assert cancelled.structured_content["status"] == "cancelled"
    assert balance(idle, idle.key_id)[0] == start
    nothing_local(agent)


def test_stdio_remote_passes_tasks_through(tmp_path: Path, start_server: Any) -> None:
    remote = start_server(workers=1)
    agent = tmp_path / "agent"
    tasks = TasksClient(timeout=120)
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "reelforge", "mcp"], env=server_env(agent, remote_env(remote))
    )

    async def scenario() -> Any:
        async with Client(params, mode=MODERN, extensions=[tasks]) as client:
            with pytest.raises(MCPError) as unknown:
                await get_task(client.session, "no-such-task")
            assert unknown.value.error.code == -32602 and "TASK_NOT_FOUND" in unknown.value.error.message
            return await client.call_tool("generate_video", {"prompt": "a paper plane", "options": {"duration": 5}})

    result = anyio.run(scenario)
    [created] = tasks.created
    assert created.status == "working" and created.poll_interval_ms is not None
    assert [state["status"] for _, state in tasks.polls][-1] == "completed"
    assert result.structured_content["task_id"] == created.task_id
    assert result.structured_content["video_url"].startswith(remote.url)
    nothing_local(agent)


@pytest.mark.parametrize("case", ["bad key", "no server"])
def test_stdio_remote_refuses_to_start_without_a_usable_server(tmp_path: Path, start_server: Any, case: str) -> None:
    url = start_server(workers=0).url if case == "bad key" else "http://127.0.0.1:9"
    result = subprocess.run(
        [sys.executable, "-m", "reelforge", "mcp", "--url", url],
        env=server_env(tmp_path / "agent", {"REELFORGE_API_KEY": "rf_not_a_key"}),
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and result.stdout == ""
    expected = "AUTH_FAILED" if case == "bad key" else "UPSTREAM_UNAVAILABLE: cannot reach reelforge"
    assert expected in result.stderr and "rf_not_a_key" not in result.stderr

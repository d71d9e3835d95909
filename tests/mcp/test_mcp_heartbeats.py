"""Heartbeats: a waiting MCP call is never silent, also in a phase with no percentage.

The server's t2v model is the draft engine with `load_seconds` (a stand-in for a large model's load: the
`loading` phase, no progress, configured in models.toml), and the heartbeat is 0.5 s instead of 15 s
(`REELFORGE_MCP_HEARTBEAT_SECONDS`). A real `reelforge serve`, the SDK's client over HTTP.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.conftest import ServerProcess
from tests.mcp.test_mcp import http_session

LOAD_SECONDS = 4
HEARTBEAT = 0.5
MODELS = f"""
[models.t2v]
engine = "draft"
kind = "text_to_video"
credits_per_second = 1
durations = [5]
aspect_ratios = ["16:9"]
expected_seconds = 12

[models.t2v.settings]
load_seconds = {LOAD_SECONDS}
"""


class TimedProgress:
    def __init__(self) -> None:
        self.events: list[tuple[float, float, str]] = []

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.events.append((time.monotonic(), progress, message or ""))


@pytest.fixture
def slow_loading(tmp_path: Path, start_server: Any) -> ServerProcess:
    models = tmp_path / "models.toml"
    models.write_text(MODELS)
    return start_server(env={"REELFORGE_MODELS_FILE": str(models), "REELFORGE_MCP_HEARTBEAT_SECONDS": str(HEARTBEAT)})


def test_heartbeats_during_a_silent_load_then_the_video(slow_loading: ServerProcess) -> None:
    progress = TimedProgress()

    async def scenario() -> Any:
        async with http_session(slow_loading) as session:
            return await session.call_tool(
                "generate_video",
                {"prompt": "a slow start", "options": {"duration": 5}, "wait": True, "wait_ms": 120_000},
                progress_callback=progress,
            )

    result = anyio.run(scenario)
    assert not result.is_error and result.structured_content["status"] == "succeeded"
    assert result.structured_content["wait_cut_short"] is False
    loading = [event for event in progress.events if "loading" in event[2]]
    # about LOAD_SECONDS / HEARTBEAT beats while the engine shows nothing but its phase
    assert len(loading) >= LOAD_SECONDS / HEARTBEAT / 2, progress.events
    assert all(message == "running: loading (no percentage yet)" for _, _, message in loading)
    times = [at for at, _, _ in progress.events]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert max(gaps) < HEARTBEAT + 1.0, gaps  # never silent much longer than the heartbeat
    values = [value for _, value, _ in progress.events]
    assert values == sorted(values) and len(set(values)) == len(values)  # strictly rising, as MCP requires
    assert values[-1] == 100 and progress.events[-1][2] == "succeeded"


def test_a_wait_cut_short_says_so_with_poll_advice(slow_loading: ServerProcess) -> None:
    async def scenario() -> tuple[Any, Any]:
        async with http_session(slow_loading) as session:
            made = await session.call_tool(
                "generate_video", {"prompt": "not yet", "options": {"duration": 5}, "wait": True, "wait_ms": 1500}
            )
            task_id = made.structured_content["task_id"]
            got = await session.call_tool("get_video", {"task_id": task_id, "wait_ms": 60_000})
            return made, got

    made, got = anyio.run(scenario)
    snapshot = made.structured_content
    assert snapshot["status"] in ("queued", "running") and snapshot["wait_cut_short"] is True
    # expected_seconds = 12 in models.toml: a quarter of what remains, at least 1 s (2 s while queued)
    assert 1000 <= snapshot["poll_after_ms"] <= 3000
    text = made.content[0].text
    assert "The wait ended before the task did" in text
    assert text.endswith(f"Do not poll sooner than {snapshot['poll_after_ms']} ms")
    assert got.structured_content["status"] == "succeeded" and got.structured_content["wait_cut_short"] is False
    assert got.structured_content["poll_after_ms"] is None

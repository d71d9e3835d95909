"""The MCP tools in-process: the server of `reelforge.mcp.server` over the SDK's in-memory transport, on the
app's own services and create path (the `api` fixture: no workers, tasks stay queued).

What it checks, as an agent sees it: a refused generate_video / render_template leaves no upload and takes no
credit, `idempotency_key` returns the first task (and refuses a reuse), and MCP never imports the HTTP API.
Real MP4s, progress and the HTTP and stdio transports are in `test_mcp.py`, against a real `reelforge serve`.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import anyio
import pytest
from mcp import Client

from reelforge.mcp.server import build_server
from reelforge.mcp.tools import Caller, VideoTools
from tests.asgi import InProcessApp
from tests.helpers import data_uri, png_bytes

IMAGE = data_uri(png_bytes(64, 48))
TEXT_TEMPLATE = {"version": "1", "blocks": [{"type": "text", "text": "Hello agents", "start": 0, "duration": 2}]}


class Agent:
    """One API key calling the MCP tools in-process."""

    def __init__(self, api: InProcessApp, credits: int = 100) -> None:
        self.api = api
        self.key = api.new_key(credits)
        create_path = api.client.app.state.create_path  # type: ignore[attr-defined]
        self.tools = VideoTools(api.services, create_path, embed_max_bytes=0)
        self.caller = Caller(key_id=api.key_id(self.key), base_url="http://testserver/")

    def call(self, *calls: tuple[str, dict[str, Any]]) -> list[Any]:
        async def scenario() -> list[Any]:
            async with Client(build_server(self.tools, lambda ctx: self.caller)) as client:
                await client.list_tools()
                return [await client.call_tool(name, arguments) for name, arguments in calls]

        return anyio.run(scenario)

    def one(self, name: str, arguments: dict[str, Any]) -> Any:
        return self.call((name, arguments))[0]

    def balance(self) -> int:
        return self.api.balance(self.key)


@pytest.fixture
def agent(api: InProcessApp) -> Agent:
    return Agent(api)


def refused(agent: Agent, result: Any, code: str, field: str | None = None) -> dict[str, Any]:
    """`result` is the tool error expected, and left nothing: no upload, no credit, no dispatch."""
    assert result.is_error, result.content
    error = result.structured_content["error"]
    assert error["code"] == code, error
    if field is not None:
        assert error.get("field") == field, error
    assert result.content[0].text.startswith(f"{code}: ")
    assert agent.api.uploads() == [] and agent.api.executor.dispatched == []
    return error


# ---------------------------------------------------------------- refused creates


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"prompt": "x", "colour": "red", "imageInput": IMAGE}, "/colour"),
        ({"prompt": "x", "scene": "image-to-video"}, "/imageInput"),
        ({"prompt": "x", "scene": "image-to-video", "imageInput": IMAGE, "options": {"duration": 7}}, None),
        ({"prompt": "x", "scene": "image-to-video", "imageInput": "data:image/png;base64,bm90IGFuIGltYWdl"}, None),
        ({"prompt": "x", "scene": "video-to-video", "videoInput": "ftp://example.com/a.mp4"}, "/videoInput/0"),
        ({"prompt": "x", "idempotency_key": ""}, "/idempotency_key"),
    ],
)
def test_a_refused_generate_video_keeps_nothing(agent: Agent, arguments: dict[str, Any], field: str | None) -> None:
    refused(agent, agent.one("generate_video", arguments), "INVALID_PAYLOAD", field)
    assert agent.balance() == 100


def test_no_credits_keeps_no_upload(api: InProcessApp) -> None:
    poor = Agent(api, credits=1)
    made = poor.one("generate_video", {"prompt": "x", "scene": "image-to-video", "imageInput": IMAGE})
    refused(poor, made, "INSUFFICIENT_CREDITS")
    rendered = poor.one("render_template", {"template": TEXT_TEMPLATE})
    refused(poor, rendered, "INSUFFICIENT_CREDITS")
    assert poor.balance() == 1


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"template": {"version": "2", "blocks": []}}, "/template/version"),
        (
            {
                "template": {
                    "version": "1",
                    "blocks": [{"type": "text", "text": "hi", "start": 0, "duration": 1, "fadeIn": 2}],
                }
            },
            None,
        ),
        (
            {
                "template": {
                    "version": "1",
                    "blocks": [{"type": "image", "start": 0, "duration": 1, "source": {"uploadName": "a.png"}}],
                }
            },
            "/template/blocks/0/source/uploadName",
        ),
        (
            {
                "template": {
                    "version": "1",
                    "blocks": [{"type": "image", "start": 0, "duration": 1, "source": {"url": "ftp://x/a.png"}}],
                }
            },
            "/template/blocks/0/source/url",
        ),
        ({"template": TEXT_TEMPLATE, "output": {"quality": "ultra"}}, "/output/quality"),
    ],
)
def test_a_refused_render_template_keeps_nothing(agent: Agent, arguments: dict[str, Any], field: str | None) -> None:
    error = refused(agent, agent.one("render_template", arguments), "INVALID_PAYLOAD", field)
    assert error["field"].startswith(("/template", "/output"))
    assert agent.balance() == 100


def test_an_engine_refusal_keeps_no_upload(short_engine: InProcessApp) -> None:
    agent = Agent(short_engine)
    arguments = {"prompt": "x", "scene": "image-to-video", "imageInput": IMAGE, "options": {"duration": 5}}
    error = refused(agent, agent.one("generate_video", arguments), "INVALID_PAYLOAD", "/duration")
    assert "at most 3" in error["message"] and agent.balance() == 100


# ---------------------------------------------------------------- accepted creates and idempotency


def test_generate_video_stores_the_image_through_the_create_path(agent: Agent) -> None:
    made = agent.one("generate_video", {"prompt": "x", "scene": "image-to-video", "imageInput": IMAGE})
    assert not made.is_error, made.content
    snapshot = made.structured_content
    assert snapshot["status"] == "queued" and snapshot["model"] == "i2v" and snapshot["credits"] == 5
    assert len(agent.api.uploads()) == 1 and agent.balance() == 95
    assert agent.api.executor.dispatched == [snapshot["task_id"]]
    task = agent.api.services.tasks.get(snapshot["task_id"])
    assert task.dialect == "mcp" and task.input["imageInput"][0].startswith("data:image/png;base64,<")


def test_generate_video_idempotency_key(agent: Agent) -> None:
    arguments = {"prompt": "x", "scene": "image-to-video", "imageInput": IMAGE, "idempotency_key": "k1"}
    first, again, waited, conflict = agent.call(
        ("generate_video", arguments),
        ("generate_video", arguments),
        ("generate_video", {**arguments, "wait": True, "wait_ms": 0}),  # wait options are not the request
        ("generate_video", {**arguments, "prompt": "y"}),
    )
    task_id = first.structured_content["task_id"]
    assert again.structured_content["task_id"] == task_id and waited.structured_content["task_id"] == task_id
    assert conflict.is_error and conflict.structured_content["error"]["code"] == "IDEMPOTENCY_CONFLICT"
    assert len(agent.api.uploads()) == 1 and agent.balance() == 95  # charged once, one image kept
    assert set(agent.api.executor.dispatched) == {task_id}


def test_render_template_idempotency_key(agent: Agent) -> None:
    arguments = {
        "template": TEXT_TEMPLATE,
        "output": {"aspectRatio": "1:1", "quality": "draft"},
        "idempotency_key": "r",
    }
    first, again, conflict = agent.call(
        ("render_template", arguments),
        ("render_template", arguments),
        ("render_template", {**arguments, "output": {"aspectRatio": "9:16"}}),
    )
    assert not first.is_error, first.content
    snapshot = first.structured_content
    assert snapshot["model"] == "avs-json" and snapshot["credits"] == 5
    assert again.structured_content["task_id"] == snapshot["task_id"]
    assert conflict.structured_content["error"]["code"] == "IDEMPOTENCY_CONFLICT"
    assert agent.balance() == 95
    task = agent.api.services.tasks.get(snapshot["task_id"])
    assert (task.request.width, task.request.height) == (360, 360)
    assert task.input == {"template": TEXT_TEMPLATE, "output": {"aspectRatio": "1:1", "quality": "draft"}}


def test_the_tools_declare_idempotency_key(agent: Agent) -> None:
    async def scenario() -> Any:
        async with Client(build_server(agent.tools, lambda ctx: agent.caller)) as client:
            return await client.list_tools()

    tools = {tool.name: tool for tool in anyio.run(scenario).tools}
    for name in ("generate_video", "render_template"):
        assert "idempotency_key" in tools[name].input_schema["properties"]
    assert tools["generate_video"].input_schema["required"] == ["prompt"]


# ---------------------------------------------------------------- layering


def test_mcp_does_not_import_the_http_api() -> None:
    code = (
        "import sys, reelforge.mcp.http, reelforge.mcp.server, reelforge.mcp.tools, reelforge.mcp.schemas;"
        "print(sorted(m for m in sys.modules if m == 'reelforge.api' or m.startswith('reelforge.api.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

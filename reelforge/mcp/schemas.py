"""The MCP tools' arguments and results, built from the domain models the HTTP API parses with.

`generate_video` takes exactly what `POST /api/actions/ai.video.generate` takes (`SceneArgs`, from
`reelforge.domain.scenes`) plus the wait options and an idempotency key; `render_template` takes the AVS
from-json body (media by URL), whose `template` schema is the compositor's own `Template` model. So an agent
reading a tool's input schema reads the API's contract, and the two cannot drift apart. Nothing here imports
the HTTP API package: MCP sits beside the HTTP dialects, not on top of them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from reelforge.domain.scenes import SceneArgs
from reelforge.domain.template import Template
from reelforge.edge.idempotency import MAX_KEY_CHARS

DEFAULT_WAIT_MS = 600_000
MAX_WAIT_MS = 1_800_000
"""30 minutes: a tool call may wait this long (heartbeats keep it alive); longer renders are polled."""


class WaitOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    wait: bool = Field(False, description="Wait for the video, streaming progress notifications, before answering")
    wait_ms: int = Field(
        DEFAULT_WAIT_MS,
        ge=0,
        le=MAX_WAIT_MS,
        description="With wait: answer with the task as it is after this long (it keeps running; the answer "
        "says wait_cut_short=true); at most 30 minutes",
    )


class CreateOptions(WaitOptions):
    idempotency_key: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_KEY_CHARS,
        description="Retry-safe creates: a repeat with the same key and arguments returns the first task "
        "(charged once); the same key with other arguments is refused with IDEMPOTENCY_CONFLICT",
    )


class GenerateVideoArgs(SceneArgs, CreateOptions):
    """`ai.video.generate`'s input: prompt, scene or model, image/video inputs, options; plus wait and a key."""


class GetVideoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task_id: str = Field(min_length=1, description="The task_id generate_video or render_template returned")
    wait_ms: int = Field(
        0,
        ge=0,
        le=MAX_WAIT_MS,
        description="Wait up to this long (at most 30 minutes) for the task to finish, streaming progress meanwhile",
    )


class CancelVideoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task_id: str = Field(min_length=1)


class ListModelsArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RenderOutput(BaseModel):
    """The AVS from-json `output` object."""

    model_config = ConfigDict(extra="forbid")

    aspectRatio: Literal["16:9", "9:16", "1:1", "4:5", "4:3"] = "16:9"
    quality: Literal["draft", "web", "studio"] = "web"
    format: Literal["mp4"] = "mp4"


class RenderTemplateArgs(CreateOptions):
    """The AVS from-json body (media by URL; uploads need the HTTP API) plus wait."""

    template: Template = Field(description='An AVS Template JSON v1: version "1" and video/image/text/audio blocks')
    output: RenderOutput = Field(default_factory=RenderOutput)


class RenderOptions(CreateOptions):
    """`RenderTemplateArgs` without the template, which `parse_template` checks with JSON pointers."""

    template: dict[str, Any]
    output: RenderOutput = Field(default_factory=RenderOutput)


class ToolErrorInfo(BaseModel):
    code: str = Field(description="A stable reelforge error code, e.g. INSUFFICIENT_CREDITS, TASK_NOT_FOUND")
    message: str
    field: str | None = Field(None, description="JSON pointer to the offending argument, when there is one")
    retry_after: float | None = None


class VideoSnapshot(BaseModel):
    """A task as it stands: what `generate_video`, `get_video`, `cancel_video` and `render_template` answer."""

    task_id: str
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    progress: int = Field(description="0-100")
    phase: str | None = Field(None, description="queued, started, preparing_assets, generating, rendering, ...")
    model: str
    credits: int = Field(description="Credits charged for the task (refunded if it failed or was cancelled)")
    queue_position: int | None = Field(None, description="While queued: 1 when it is next in its model's queue")
    video_url: str | None = Field(
        None,
        description="Signed, expiring MP4 link once the task succeeded (a file:// URI from a local "
        "`reelforge mcp` with no server)",
    )
    thumbnail_url: str | None = None
    video_path: str | None = Field(None, description="Local `reelforge mcp`: the MP4's path on this machine")
    thumbnail_path: str | None = None
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    error: ToolErrorInfo | None = None
    timings: dict[str, Any] | None = Field(
        None,
        description="Seconds per stage of the finished task (load, denoising, decode, encode, store, total)",
    )
    embedded: bool = Field(False, description="True when the MP4 itself is attached as an embedded resource")
    expires_at: datetime | None = Field(
        None, description="When the output files are deleted (then error is OUTPUT_EXPIRED and there are no URLs)"
    )
    poll_after_ms: int | None = Field(
        None,
        description="While the task runs: do not poll sooner than this (get_video with wait_ms, or "
        "tasks/get); null once it ended",
    )
    wait_cut_short: bool | None = Field(
        None,
        description="true: the wait ended at wait_ms before the task did (it keeps running); false: the "
        "task ended within the wait; null: no wait was asked",
    )


class ModelInfo(BaseModel):
    name: str
    kind: str
    engine: str
    description: str
    credits_per_second: float | None = None
    durations: list[int] | None = None
    aspect_ratios: list[str] | None = None


class ModelList(BaseModel):
    models: list[ModelInfo]


class ToolSpec(BaseModel):
    """One tool as this server lists it."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    name: str
    title: str
    description: str
    arguments: type[BaseModel]
    result: type[BaseModel]

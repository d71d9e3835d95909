"""`CreatorEngine`: the AVS prompt-to-video job. Plan a template, generate what is missing, render it.

Phases, each reported when it really starts: `preparing_assets` (fetch and probe the inputs; a screen
recording is analysed for scene changes and active segments),
`generating` (plan the template; generate clips with the text-to-video engine when no visual asset was
given), `rendering` (the `compose` engine on one ffmpeg graph).

Settings (`[models.avs-prompt.settings]`, `CreatorEngine.Settings`): `clip_engine` ("draft"), `clip_settings`
({}, checked against the clip engine's own settings), the text-to-video engine behind generated clips,
normally the catalog's `t2v`; `planner_url`, `planner_model`, `planner_api_key_env` for the optional
OpenAI-compatible planner; `compose` ({}), settings for the renderer (`ComposeEngine.Settings`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator

from reelforge.domain.catalog import describe_errors
from reelforge.domain.errors import ReelforgeError, invalid
from reelforge.domain.request import GenerationRequest, Kind
from reelforge.domain.template import parse_template, template_duration
from reelforge.engines.base import (
    ENGINE_CLASSES,
    Artifact,
    EngineCapabilities,
    EngineSettings,
    RunContext,
    check_capabilities,
    create_engine,
    engine_class,
    parse_settings,
)
from reelforge.engines.compose.engine import ComposeEngine, ComposeSettings
from reelforge.engines.compose.inputs import probe_media
from reelforge.engines.creator.llm import ChatPlanner, PlannerError
from reelforge.engines.creator.plan import ClipRequest, PlannedAsset, clips_for, plan
from reelforge.media.screen import analyse

SCREEN_RECORDING = "screen_recording"
"""An AVS `.vidova` upload: analysed (`media/screen.py`) and cut into highlights by the planner."""

log = logging.getLogger(__name__)
LOCAL_PREFIX = "local:"


class StageContext:
    """A view of the task's context for one stage: its own work directory, a slice of the progress bar,
    inputs served from memory or local files, and phases the stage may not repeat filtered out."""

    def __init__(
        self,
        parent: RunContext,
        workdir: Path,
        progress: tuple[float, float],
        inputs: dict[str, bytes | Path],
        hidden_phases: frozenset[str] = frozenset(),
    ) -> None:
        self._parent = parent
        self.task_id = parent.task_id
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self._low, self._high = progress
        self._inputs = inputs
        self._hidden = hidden_phases

    def progress(self, percent: float) -> None:
        self._parent.progress(self._low + (self._high - self._low) * max(0.0, min(100.0, percent)) / 100)

    def cancelled(self) -> bool:
        return self._parent.cancelled()

    def raise_if_cancelled(self) -> None:
        self._parent.raise_if_cancelled()

    def phase(self, name: str) -> None:
        if name not in self._hidden:
            self._parent.phase(name)

    def read_input(self, source: str) -> bytes:
        held = self._inputs.get(source)
        if held is None:
            held = self._inputs[source] = self._parent.read_input(source)
        return held.read_bytes() if isinstance(held, Path) else held


class CreatorSettings(EngineSettings):
    """`[models.<name>.settings]` of a creator model."""

    clip_engine: str = "draft"
    clip_settings: dict[str, Any] = Field(default_factory=dict)
    """The clip engine's own settings table, checked against its `Settings` (parsed into `clip`)."""
    planner_url: str | None = None
    planner_model: str = "gpt-4o-mini"
    planner_api_key_env: str | None = None
    compose: ComposeSettings = Field(default_factory=ComposeSettings)

    @model_validator(mode="after")
    def _clip_engine_settings(self) -> CreatorSettings:
        if self.clip_engine not in ENGINE_CLASSES or self.clip_engine == "creator":
            known = ", ".join(name for name in ENGINE_CLASSES if name != "creator")
            raise ValueError(f"clip_engine must be one of {known}, got {self.clip_engine!r}")
        model = engine_class(self.clip_engine).Settings
        try:
            self._derive(clip=model.from_table(self.clip_settings))
        except ValidationError as exc:
            raise ValueError("; ".join(describe_errors(exc, model, prefix="clip_settings"))) from None
        return self

    @property
    def clip(self) -> EngineSettings:
        """`clip_settings` parsed by the clip engine's `Settings`."""
        return self.__dict__["clip"]


class CreatorEngine:
    name = "creator"
    Settings = CreatorSettings
    capabilities = EngineCapabilities(
        kinds=frozenset({Kind.COMPOSE}),
        description="Prompt and assets to a planned template (deterministic, or an OpenAI-compatible chat "
        "model), generated clips where nothing is given, rendered by the compose engine.",
        who="the creator engine",
    )

    def __init__(self, settings: CreatorSettings | Mapping[str, Any] | None = None) -> None:
        self.settings = parse_settings(CreatorSettings, settings)
        self.renderer = ComposeEngine(self.settings.compose)
        self.clip_engine_name = self.settings.clip_engine
        self.clip_settings = self.settings.clip
        self.planner = (
            ChatPlanner(self.settings.planner_url, self.settings.planner_model, self.settings.planner_api_key_env)
            if self.settings.planner_url
            else None
        )
        # The renderer's frame rules (size, fps); durations follow the plan.
        renderer = self.renderer.capabilities
        self.capabilities = replace(
            CreatorEngine.capabilities,
            min_side=renderer.min_side,
            max_side=renderer.max_side,
            even_sides=renderer.even_sides,
            min_fps=renderer.min_fps,
            max_fps=renderer.max_fps,
        )

    def validate(self, request: GenerationRequest) -> None:
        check_capabilities(request, self.capabilities)
        if not request.prompt:
            raise invalid("prompt is required", "/prompt")
        for index, asset in enumerate(request.assets):
            if asset.type not in ("video", "image", "audio", SCREEN_RECORDING):
                raise invalid(f"asset type {asset.type!r} is not video, image or audio", f"/assets/{index}")

    def run(self, request: GenerationRequest, ctx: RunContext) -> Artifact:
        inputs: dict[str, bytes | Path] = {}
        ctx.phase("preparing_assets")
        planned = self._prepare(request, ctx, inputs)
        ctx.raise_if_cancelled()

        ctx.phase("generating")
        template = self._ask_planner(request, planned)
        clips: list[ClipRequest] = []
        if template is None:
            has_visuals = any(a.type in ("video", "image") for a in planned)
            clips = [] if has_visuals else clips_for(request.prompt or "", request.duration)
            template = plan(request.prompt or "", request.duration, planned, clips, _plan_options(request.extra))
        render_from = 50.0 if clips else 10.0
        for index, clip in enumerate(clips):
            span = (10 + 40 * index / len(clips), 10 + 40 * (index + 1) / len(clips))
            inputs[clip.ref] = self._generate_clip(
                request, clip, index, StageContext(ctx, ctx.workdir / f"clip-{index}", span, inputs)
            )
            ctx.raise_if_cancelled()

        ctx.phase("rendering")
        parsed = parse_template(template, prefix="/plan")
        render_request = request.model_copy(update={"template": template, "duration": template_duration(parsed)})
        stage = StageContext(
            ctx, ctx.workdir / "render", (render_from, 100.0), inputs, hidden_phases=frozenset({"preparing_assets"})
        )
        return self.renderer.run(render_request, stage)

    def _prepare(
        self, request: GenerationRequest, ctx: RunContext, inputs: dict[str, bytes | Path]
    ) -> list[PlannedAsset]:
        """Fetch every asset once (the renderer reuses the bytes) and measure videos and audio."""
        planned = []
        for index, asset in enumerate(request.assets):
            data = ctx.read_input(asset.source)
            inputs[asset.source] = data
            seconds = None
            if asset.type in ("video", "audio", SCREEN_RECORDING):
                path = ctx.workdir / "assets" / f"{index}"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                seconds = probe_media(path, asset.name or f"asset {index}", f"/assets/{index}").duration
            name = asset.name or f"asset-{index}"
            if asset.type == SCREEN_RECORDING:  # the analysis step: scene changes and active segments
                found = analyse(path, seconds or 0.0)
                planned.append(PlannedAsset(asset.source, "video", name, seconds, found.active, found.scene_changes))
            else:
                planned.append(PlannedAsset(asset.source, asset.type, name, seconds))
            ctx.progress(10 * (index + 1) / max(1, len(request.assets)))
        return planned

    def _ask_planner(self, request: GenerationRequest, planned: list[PlannedAsset]) -> dict[str, Any] | None:
        if self.planner is None:
            return None
        try:
            template = self.planner.plan(
                request.prompt or "", request.duration, request.extra.get("aspectRatio", "16:9"), planned
            )
            parse_template(template, prefix="/plan")
            return template
        except (PlannerError, ReelforgeError) as exc:
            log.warning("chat planner failed (%s); using the deterministic planner", exc)
            return None

    def _generate_clip(self, request: GenerationRequest, clip: ClipRequest, index: int, stage: StageContext) -> Path:
        engine = create_engine(self.clip_engine_name, self.clip_settings)
        clip_request = GenerationRequest(
            kind=Kind.TEXT_TO_VIDEO,
            prompt=clip.prompt,
            width=request.width,
            height=request.height,
            fps=request.fps,
            duration=clip.seconds,
            seed=request.seed + index,
        )
        engine.validate(clip_request)
        return Path(engine.run(clip_request, stage).video_path)


def _plan_options(extra: dict[str, Any]) -> dict[str, Any]:
    """The planner's options from the request (`voiceover`, `captions`, `voice`; the API passes them on)."""
    return {name: extra[name] for name in ("voiceover", "captions", "voice") if name in extra}

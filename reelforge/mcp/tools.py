"""What the MCP tools do, in terms of the task service: create, wait with progress, read, cancel.

The tools translate with the same domain functions the HTTP dialects use (`domain.scenes.scene_request`, as
the actions API does, and `domain.scenes.template_request`, the AVS from-json rules) and create through the
same `CreatePath`, so a task made over MCP is priced, validated, queued, refunded and cleaned up exactly
like one made over HTTP (a refused create leaves no upload and takes no credit; `idempotency_key` makes a
retry safe), and shows up in every dialect's history for the same key.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.domain.polling import task_poll_after_ms
from reelforge.domain.scenes import TEMPLATE_MODEL, input_list, resolve_model, scene_request, template_request
from reelforge.domain.task import Task, TaskStatus
from reelforge.edge.create import CreatePath
from reelforge.edge.idempotency import Idempotency
from reelforge.edge.links import Links, expired_message
from reelforge.edge.uploads import UploadSession, elide_data_uri
from reelforge.engines.base import engine_class
from reelforge.mcp.schemas import (
    CancelVideoArgs,
    CreateOptions,
    GenerateVideoArgs,
    GetVideoArgs,
    ListModelsArgs,
    ModelInfo,
    ModelList,
    RenderOptions,
    ToolErrorInfo,
    VideoSnapshot,
)
from reelforge.media.fetch import check_url
from reelforge.services import Services
from reelforge.tasks.service import Submission

log = logging.getLogger(__name__)

DIALECT = "mcp"
POLL_SECONDS = 0.25
CREATE_OPTIONS = set(CreateOptions.model_fields)  # wait, wait_ms, idempotency_key: not part of the request
CANCEL_SETTLE_SECONDS = 10.0

Progress = Callable[[float, str], Awaitable[None]]
"""`(percent, message)`: sends an MCP progress notification (a no-op when the caller asked for none)."""


@dataclass(frozen=True)
class Caller:
    """Who is calling (the API key's id) and the base URL their links should use.

    `local_files`: the caller runs on this machine with no server to link to (a local `reelforge mcp`
    without `--public-url`): answers carry the outputs' paths and `file://` URIs instead of dead links.
    """

    key_id: str
    base_url: str
    local_files: bool = False


@dataclass(frozen=True)
class Outcome:
    """A tool's answer: the structured snapshot, and the MP4 (at `snapshot.video_url`) when small enough to attach."""

    snapshot: VideoSnapshot | ModelList
    video: bytes | None = None


class VideoTools:
    def __init__(
        self,
        services: Services,
        create_path: CreatePath,
        *,
        embed_max_bytes: int,
        heartbeat_seconds: float | None = None,
    ) -> None:
        self.services = services
        self.create_path = create_path
        self.executor = create_path.executor
        self.embed_max_bytes = embed_max_bytes
        self.heartbeat_seconds = heartbeat_seconds or services.settings.mcp_heartbeat_seconds

    # ------------------------------------------------------------------ tools

    async def generate_video(self, args: GenerateVideoArgs, caller: Caller, progress: Progress) -> Outcome:
        model = resolve_model(args, self.services.tasks.catalog).spec.name  # provider/model as actions resolve it
        sent = args.model_dump(exclude=CREATE_OPTIONS, exclude_none=True)
        echoed = dict(sent)
        if "imageInput" in echoed:
            echoed["imageInput"] = [elide_data_uri(value) for value in input_list(args.imageInput)]

        def build(session: UploadSession) -> Submission:
            request = scene_request(
                args,
                self.services.tasks.model(model),
                accept_image=lambda value, field: session.accept_image(value, field).source,
                check_url=self._check_url,
            )
            return Submission(model=model, request=request, dialect=DIALECT, input=echoed)

        return await self._create(build, self._idempotency(args, model, sent), caller, progress, args)

    async def render_template(self, args: RenderOptions, caller: Caller, progress: Progress) -> Outcome:
        if not self.compositor_available():
            raise ReelforgeError(
                ErrorCode.INVALID_MODEL,
                f"this server has no compositor: no {TEMPLATE_MODEL!r} model with a working compose engine",
            )
        output = args.output

        def build(session: UploadSession) -> Submission:
            request, echoed = template_request(
                args.template, output.aspectRatio, output.quality, check_url=self._check_url
            )
            return Submission(model=TEMPLATE_MODEL, request=request, input=echoed, dialect=DIALECT)

        sent = {"template": args.template, "output": output.model_dump()}
        return await self._create(build, self._idempotency(args, TEMPLATE_MODEL, sent), caller, progress, args)

    async def get_video(self, args: GetVideoArgs, caller: Caller, progress: Progress) -> Outcome:
        task = await asyncio.to_thread(self.services.tasks.get, args.task_id, caller.key_id)
        cut_short = None
        if args.wait_ms:
            task, cut_short = await self._wait(task, caller, args.wait_ms, progress)
        return await self._outcome(task, caller, cut_short)

    async def cancel_video(self, args: CancelVideoArgs, caller: Caller, progress: Progress) -> Outcome:
        """Cancel, then give a running task a moment to stop so the answer is usually final."""
        task = await asyncio.to_thread(self.services.tasks.cancel, args.task_id, caller.key_id, allow_running=True)
        self.executor.cancel(task.id)
        if not task.status.is_terminal:
            task, _ = await self._wait(task, caller, int(CANCEL_SETTLE_SECONDS * 1000), progress)
        return await self._outcome(task, caller)

    async def list_models(self, args: ListModelsArgs, caller: Caller, progress: Progress) -> Outcome:
        catalog = self.services.tasks.catalog
        models = [
            ModelInfo(
                name=spec.name,
                kind=spec.kind.value,
                engine=spec.engine,
                description=spec.description,
                credits_per_second=spec.credits_per_second,
                durations=spec.durations or None,
                aspect_ratios=spec.aspect_ratios or None,
            )
            for spec in (catalog.models[name] for name in catalog.names)
        ]
        return Outcome(ModelList(models=models))

    def compositor_available(self) -> bool:
        spec = self.services.tasks.catalog.get(TEMPLATE_MODEL)
        if spec is None:
            return False
        try:
            engine_class(spec.engine)
        except (ImportError, ReelforgeError):
            return False
        return True

    # --------------------------------------------------------------- helpers

    def _check_url(self, url: str, field: str) -> None:
        try:
            check_url(url, allow_private=self.services.settings.private_input_urls_allowed, purpose=field)
        except ReelforgeError as exc:
            exc.field = field
            raise

    @staticmethod
    def _idempotency(args: CreateOptions, model: str, sent: dict[str, Any]) -> Idempotency:
        """The caller's `idempotency_key` and a digest of what they sent (the tool, the model, the arguments)."""
        return Idempotency.of(args.idempotency_key, DIALECT, model, sent, field="/idempotency_key")

    async def _create(
        self,
        build: Callable[[UploadSession], Submission],
        idempotency: Idempotency,
        caller: Caller,
        progress: Progress,
        options: CreateOptions,
    ) -> Outcome:
        """Create through the create path (off the event loop), then wait when asked to."""
        task = await self.create_path.create_async(caller.key_id, build, idempotency)
        log.info("mcp: task %s (%s) created", task.id, task.model)
        cut_short = None
        if options.wait:
            task, cut_short = await self._wait(task, caller, options.wait_ms, progress)
        return await self._outcome(task, caller, cut_short)

    async def created(self, name: str, args: Any, caller: Caller) -> Outcome:
        """`generate_video` / `render_template` answering at once (the tasks extension): no wait."""
        handler: Callable[[Any, Caller, Progress], Awaitable[Outcome]] = getattr(self, name)
        return await handler(args.model_copy(update={"wait": False}), caller, _silent)

    async def task(self, task_id: str, caller: Caller) -> tuple[Task, Outcome]:
        """A task and the tool answer it stands for now (`tasks/get`)."""
        task = await asyncio.to_thread(self.services.tasks.get, task_id, caller.key_id)
        return task, await self._outcome(task, caller)

    async def cancel_task(self, task_id: str, caller: Caller) -> None:
        """`tasks/cancel`: the same cancel as `cancel_video` (refunds once), without waiting for it to settle."""
        task = await asyncio.to_thread(self.services.tasks.cancel, task_id, caller.key_id, allow_running=True)
        self.executor.cancel(task.id)

    def poll_after_ms(self, task: Task) -> int | None:
        """The poll advice every surface gives for `task` (`domain.polling`)."""
        return task_poll_after_ms(task, self.services.tasks.catalog.get(task.model))

    async def _wait(self, task: Task, caller: Caller, wait_ms: int, progress: Progress) -> tuple[Task, bool]:
        """Poll the task until it ends or `wait_ms` runs out; (the task, whether the wait was cut short).

        A notification goes out whenever the percentage rises or the phase changes, and at least every
        `heartbeat_seconds` otherwise (queued, loading: phases with no percentage), so a host never sees
        a silent call; `Heartbeat` keeps the values rising as MCP asks.
        """
        deadline = time.monotonic() + wait_ms / 1000
        beat = Heartbeat(progress, self.heartbeat_seconds)
        while True:
            if task.status.is_terminal:
                await beat.finish(task.status.value)
                return task, False
            position = None
            if task.status == TaskStatus.QUEUED:
                position = await asyncio.to_thread(self.services.tasks.queue_position, task.id)
            await beat.observe(task.progress, describe(task.status.value, task.phase, task.progress, position))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return task, True
            await asyncio.sleep(min(POLL_SECONDS, remaining))
            task = await asyncio.to_thread(self.services.tasks.get, task.id, caller.key_id)

    async def _outcome(self, task: Task, caller: Caller, cut_short: bool | None = None) -> Outcome:
        links = Links(self.services.storage, caller.base_url, self.services.settings.download_url_ttl)
        output = task.output if task.status == TaskStatus.SUCCEEDED else None
        video_url = links.video_url(task) if output else None  # None once the output expired
        thumbnail_url = links.thumbnail_url(task) if output else None
        video_path = thumbnail_path = None
        if output and video_url and caller.local_files:
            video_path, thumbnail_path = self._local(output.video_key), self._local(output.thumbnail_key)
            video_url = Path(video_path).as_uri() if video_path else video_url
            thumbnail_url = Path(thumbnail_path).as_uri() if thumbnail_path else thumbnail_url
        video = await asyncio.to_thread(self._small_video, task) if video_url else None
        error = ToolErrorInfo(code=task.error_code, message=task.error_message or "") if task.error_code else None
        if output and links.expired(task):
            error = ToolErrorInfo(code=ErrorCode.OUTPUT_EXPIRED, message=expired_message(task))
        position = None
        if task.status == TaskStatus.QUEUED:
            position = await asyncio.to_thread(self.services.tasks.queue_position, task.id)
        snapshot = VideoSnapshot(
            task_id=task.id,
            status=task.status.value,
            progress=task.progress,
            phase=task.phase,
            model=task.model,
            credits=task.cost,
            timings=task.timings,
            queue_position=position,
            video_url=video_url,
            thumbnail_url=thumbnail_url,
            video_path=video_path,
            thumbnail_path=thumbnail_path,
            duration=output.duration if output else None,
            width=output.width if output else None,
            height=output.height if output else None,
            fps=output.fps if output else None,
            error=error,
            embedded=video is not None,
            expires_at=task.expires_at,
            poll_after_ms=self.poll_after_ms(task),
            wait_cut_short=cut_short,
        )
        return Outcome(snapshot, video=video)

    def _local(self, key: str) -> str | None:
        path = self.services.storage.local_path(key)
        return str(path.resolve()) if path is not None else None

    def _small_video(self, task: Task) -> bytes | None:
        """The MP4's bytes when it is at most `embed_max_bytes` (0 turns embedding off)."""
        assert task.output is not None
        if self.embed_max_bytes <= 0:
            return None
        try:
            if self.services.storage.size(task.output.video_key) > self.embed_max_bytes:
                return None
            return self.services.storage.read_bytes(task.output.video_key)
        except (OSError, ReelforgeError):  # expired or removed meanwhile: the URL answer still stands
            return None


def describe(status: str, phase: str | None, percent: int, position: int | None) -> str:
    """The message of a progress notification: status, phase, and what is known of how far along."""
    if status == TaskStatus.QUEUED:
        return f"queued (position {position} in the queue)" if position else "queued"
    shown_phase = phase if phase and phase != status else "started"
    return f"{status}: {shown_phase} ({percent}%)" if percent else f"{status}: {shown_phase} (no percentage yet)"


class Heartbeat:
    """Sends progress notifications that always rise, at least every `interval` seconds while observed.

    A running task shows at most 99 (engines report 100 before the worker has stored the files); a beat
    with no new percentage adds a hundredth (halving towards 100 near the end), since MCP requires each
    notification's progress to exceed the last.
    """

    def __init__(self, send: Progress, interval: float) -> None:
        self.send = send
        self.interval = interval
        self.value = -1.0
        self.message = ""
        self.last_sent = 0.0

    async def observe(self, percent: int, message: str) -> None:
        shown = float(min(percent, 99))
        due = time.monotonic() - self.last_sent >= self.interval
        if shown <= self.value and message == self.message and not due:
            return
        if shown <= self.value:
            shown = self.value + 0.01 if self.value + 0.01 < 99.99 else self.value + (100 - self.value) / 2
        await self._emit(shown, message)

    async def finish(self, status: str) -> None:
        await self._emit(100.0, status)

    async def _emit(self, value: float, message: str) -> None:
        self.value, self.message, self.last_sent = value, message, time.monotonic()
        await self.send(round(value, 4), message)


async def _silent(percent: float, message: str) -> None:
    """The progress sink of a call that answers at once."""


def video_blob(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")

"""`UpstreamEngine`: one reelforge task run by a hosted provider (docs/providers.md).

One run: validate again (the worker may be on another host than the API) -> create the provider's task
with `Idempotency-Key: <reelforge task id>` -> poll with the SDK's backoff (`next_poll`), mapping the
provider's progress to 0-90 -> download the video (and the provider's thumbnail, else one grabbed from
the video) -> probe it -> `Artifact`. The runtime then stores the files and completes the task.

Re-runs: a worker that dies mid-task loses its lease and another runs the task again; the same
Idempotency-Key makes a provider that honours it (reelforge does) answer with the task the first run
created, so the re-run resumes polling it instead of paying for a second one. A provider that ignores the
header creates a duplicate.

Cancel: the engine checks `ctx.cancelled()` between polls and during every wait (a Retry-After included).
On a user's cancel it forwards the cancel to the provider once (best effort; AIVideoMaker accepts it only
while its task is SUBMITTED) and raises `TaskCancelled`, so the runtime records CANCELLED and refunds.
When the stop comes from the worker shutting down or losing its lease, nothing is forwarded: the task
goes back to the queue and its re-run picks the provider's task up again.

Errors are `ReelforgeError`s (see `errors.py`), so the runtime fails the task with that code and
refunds. The key is read from the environment for each run and goes only into request headers to the
provider's origin; no message, log line or record carries it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from reelforge.client.core import next_poll
from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.domain.request import GenerationRequest, Kind
from reelforge.engines.base import (
    Artifact,
    EngineCapabilities,
    RunContext,
    TaskCancelled,
    check_capabilities,
    parse_settings,
)
from reelforge.engines.upstream.aivideomaker import AIVideoMakerProvider
from reelforge.engines.upstream.client import UpstreamClient
from reelforge.engines.upstream.errors import from_task
from reelforge.engines.upstream.openai_videos import OpenAIVideosProvider
from reelforge.engines.upstream.provider import Downloaded, Provider
from reelforge.engines.upstream.settings import UpstreamSettings
from reelforge.media.encode import write_thumbnail
from reelforge.media.probe import probe

log = logging.getLogger(__name__)

_GENERATED = 90.0  # progress when the provider reports done; downloading and probing share the rest
_DOWNLOADED = 97.0
_WAIT_SLICE = 0.2  # seconds between cancel checks while waiting
THUMBNAIL_AT = 1.0  # seconds into the video, or its middle when shorter (as the compose engine does)


def make_provider(settings: UpstreamSettings) -> Provider:
    if settings.provider == "aivideomaker":
        return AIVideoMakerProvider(settings)
    return OpenAIVideosProvider(settings)


class _Waiter:
    """Sleeps in short slices; raises `TaskCancelled` on a cancel and UPSTREAM_UNAVAILABLE at the deadline."""

    def __init__(self, ctx: RunContext, timeout: float) -> None:
        self.ctx = ctx
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.timed_out = False

    def __call__(self, seconds: float) -> None:
        end = time.monotonic() + max(0.0, seconds)
        while True:
            if self.ctx.cancelled():
                raise TaskCancelled(self.ctx.task_id)
            now = time.monotonic()
            if now >= self.deadline:
                self.timed_out = True
                raise ReelforgeError(
                    ErrorCode.UPSTREAM_UNAVAILABLE,
                    f"the hosted provider did not finish within {self.timeout:g} s (the model's "
                    "timeout setting); try again later",
                )
            if now >= end:
                return
            time.sleep(min(_WAIT_SLICE, end - now, self.deadline - now))


class UpstreamEngine:
    """A hosted provider (AIVideoMaker API or an OpenAI-style /v1/videos service) behind a model name."""

    name = "upstream"
    Settings = UpstreamSettings
    # What the engine can do with some provider; an instance narrows it to its provider and model.
    capabilities = EngineCapabilities(
        kinds=frozenset({Kind.TEXT_TO_VIDEO, Kind.IMAGE_TO_VIDEO, Kind.LONG_VIDEO, Kind.MULTI_IMAGE, Kind.KEYFRAMES}),
        description="A hosted provider behind a model name: the AIVideoMaker API or an OpenAI-style /v1/videos "
        "service (Agnes, vLLM-Omni, SGLang); the key stays on the server.",
    )

    def __init__(self, settings: UpstreamSettings | Mapping[str, Any]) -> None:
        self.settings = parse_settings(UpstreamSettings, settings)
        self.provider = make_provider(self.settings)
        self.capabilities = EngineCapabilities(
            kinds=self.provider.kinds,
            description=f"{self.settings.provider} model {self.settings.model} (hosted provider)",
            who="the hosted provider behind this model",
            **self.provider.rules,
        )

    def validate(self, request: GenerationRequest) -> None:
        """Before any credit: the key's variable must be set, and the provider must be able to do the request."""
        self.settings.api_key()
        self._check(request)

    def _check(self, request: GenerationRequest) -> None:
        check_capabilities(request, self.capabilities)
        self.provider.validate(request)

    def run(self, request: GenerationRequest, ctx: RunContext) -> Artifact:
        """Create, poll, download; `video.mp4` and `thumbnail.jpg` end up in `ctx.workdir`."""
        key = self.settings.api_key()
        self._check(request)
        ctx.raise_if_cancelled()
        wait = _Waiter(ctx, self.settings.timeout)
        client = UpstreamClient(
            self.settings.base_url,
            self.provider.auth_headers(key),
            secret=key,
            timeout=self.settings.request_timeout,
            max_retries=self.settings.max_retries,
            wait=wait,
            allow_private=_allow_private_urls(),
        )
        with client:
            ctx.phase("generating")
            upstream_id = self._generate(client, request, ctx, wait, key)
            ctx.progress(_GENERATED)
            ctx.phase("downloading")
            downloaded = self.provider.download(client, upstream_id, ctx.workdir, self.settings.max_download_bytes)
        return self._artifact(downloaded, ctx)

    # ----------------------------------------------------------------- steps

    def _generate(
        self, client: UpstreamClient, request: GenerationRequest, ctx: RunContext, wait: _Waiter, key: str
    ) -> str:
        """Create the provider's task and poll it to success; its id. Cancels and timeouts are forwarded."""
        upstream_id: str | None = None
        try:
            upstream_id = self.provider.create(client, request, ctx)
            log.info(
                "task %s: %s task %s created (model %s)",
                ctx.task_id,
                self.settings.provider,
                upstream_id,
                self.settings.model,
            )
            interval = self.settings.poll_interval
            while True:
                wait(interval)
                status = self.provider.status(client, upstream_id)
                if status.progress is not None:
                    ctx.progress(max(0.0, min(100.0, status.progress)) * _GENERATED / 100)
                if status.state == "succeeded":
                    return upstream_id
                if status.state == "failed":
                    raise from_task(status.error_code, status.error_message, key)
                if status.state == "cancelled":
                    raise ReelforgeError(
                        ErrorCode.UPSTREAM_ERROR, "the task was cancelled at the hosted provider, not through reelforge"
                    )
                interval = next_poll(interval, self.settings.max_poll_interval)
        except TaskCancelled:
            # Only a user's cancel is forwarded; a worker stopping leaves the provider's task for the re-run.
            if upstream_id is not None and getattr(ctx, "cancel_was_requested", True):
                self._forward_cancel(client, upstream_id, ctx, "cancelled by the user")
            raise
        except ReelforgeError:
            if upstream_id is not None and wait.timed_out:
                self._forward_cancel(client, upstream_id, ctx, "timed out")
            raise

    def _forward_cancel(self, client: UpstreamClient, upstream_id: str, ctx: RunContext, why: str) -> None:
        try:
            accepted = self.provider.cancel(client, upstream_id)
        except ReelforgeError as exc:
            accepted = False
            log.warning(
                "task %s: forwarding the cancel to %s task %s failed: %s",
                ctx.task_id,
                self.settings.provider,
                upstream_id,
                exc.code,
            )
        log.info(
            "task %s (%s): cancel of %s task %s %s",
            ctx.task_id,
            why,
            self.settings.provider,
            upstream_id,
            "accepted" if accepted else "refused (the provider may finish and charge for it)",
        )

    def _artifact(self, downloaded: Downloaded, ctx: RunContext) -> Artifact:
        """Probe the video; keep the provider's thumbnail as a JPEG, or grab one from the video."""
        video = ctx.workdir / "video.mp4"
        downloaded.video.replace(video)
        try:
            info = probe(video)
        except Exception as exc:  # PyAV raises its own error types for files that are not video
            raise ReelforgeError(
                ErrorCode.UPSTREAM_ERROR, f"the hosted provider's video could not be read ({type(exc).__name__})"
            ) from None
        ctx.progress(_DOWNLOADED)
        thumbnail = ctx.workdir / "thumbnail.jpg"
        if not (downloaded.thumbnail and _as_jpeg(downloaded.thumbnail, thumbnail)):
            from reelforge.engines.compose.engine import grab_thumbnail  # reuse its frame picking; loads on demand

            grab_thumbnail(video, thumbnail, min(THUMBNAIL_AT, info.duration / 2))
        ctx.progress(100.0)
        return Artifact(
            video_path=video,
            thumbnail_path=thumbnail,
            duration=info.duration,
            width=info.width,
            height=info.height,
            fps=info.fps,
        )


def _as_jpeg(source: Path, target: Path) -> bool:
    """Re-encode the provider's thumbnail (any format Pillow reads) as reelforge's JPEG; False if unreadable."""
    try:
        with Image.open(source) as image:
            write_thumbnail(np.asarray(image.convert("RGB")), target)
        return True
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        log.info("hosted provider thumbnail unreadable; making one from the video")
        return False
    finally:
        source.unlink(missing_ok=True)


def _allow_private_urls() -> bool:
    """The deployment's private-input setting (engines get their model's table, not the settings)."""
    from reelforge.config import Settings

    return Settings().private_input_urls_allowed

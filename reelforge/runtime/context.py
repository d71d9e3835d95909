"""`WorkerContext`: what an engine sees of the runtime while it runs one task."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Protocol

from reelforge.config import Settings
from reelforge.domain.request import STORED_PREFIX
from reelforge.engines.base import TaskCancelled
from reelforge.media.fetch import fetch
from reelforge.storage.base import Storage
from reelforge.tasks.work import WorkQueue


class StopSignal(Protocol):
    """What tells a running engine to stop: a `threading.Event`, or several seen as one."""

    def is_set(self) -> bool: ...


class WorkerContext:
    """Throttles progress writes and cancel checks so engines may call them every frame."""

    PROGRESS_INTERVAL = 0.5
    CANCEL_CHECK_INTERVAL = 0.5

    def __init__(
        self,
        task_id: str,
        workdir: Path,
        service: WorkQueue,
        storage: Storage,
        settings: Settings,
        stop: StopSignal,
    ) -> None:
        self.task_id = task_id
        self.workdir = workdir
        self._service = service
        self._storage = storage
        self._settings = settings
        self._stop = stop  # set on worker shutdown or a lost lease
        self._last_progress = -1
        self._last_progress_at = 0.0
        self._cancel_seen = False
        self._last_cancel_check = 0.0
        self.timings: dict[str, Any] = {}  # the engine's stage timings, stored with the task when it succeeds

    def progress(self, percent: float) -> None:
        value = max(0, min(100, int(percent)))
        now = time.monotonic()
        if value <= self._last_progress:
            return
        if value < 100 and now - self._last_progress_at < self.PROGRESS_INTERVAL:
            return
        self._service.progress(self.task_id, value)
        self._last_progress, self._last_progress_at = value, now

    def cancelled(self) -> bool:
        if self._cancel_seen or self._stop.is_set():
            return True
        now = time.monotonic()
        if now - self._last_cancel_check >= self.CANCEL_CHECK_INTERVAL:
            self._last_cancel_check = now
            self._cancel_seen = self._service.cancel_requested(self.task_id)
        return self._cancel_seen

    def phase(self, name: str) -> None:
        self._service.set_phase(self.task_id, name)

    def record_timings(self, timings: dict[str, Any]) -> None:
        self.timings = dict(timings)

    def raise_if_cancelled(self) -> None:
        if self.cancelled():
            raise TaskCancelled(self.task_id)

    @property
    def cancel_was_requested(self) -> bool:
        """True when the stop came from a user's cancel rather than from a shutdown or lost lease."""
        return self._cancel_seen

    def read_input(self, source: str) -> bytes:
        if source.startswith(STORED_PREFIX):
            return self._storage.read_bytes(source[len(STORED_PREFIX) :])
        return fetch(
            source,
            allow_private=self._settings.private_input_urls_allowed,
            max_bytes=self._settings.fetch_max_bytes,
            timeout=self._settings.fetch_timeout,
            # signed CDN URLs often answer application/octet-stream: the API typed those by their bytes
            accept_prefix=("image/", "video/", "audio/", "application/octet-stream", "binary/octet-stream"),
        ).data

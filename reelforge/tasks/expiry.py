"""The expiry sweep: delete finished tasks' files (outputs and uploaded inputs) once `expires_at` passed, and
mark those tasks through the one writer of task state, `TaskLifecycle`.

It runs in every API server's lifespan, next to the webhook dispatcher, rather than in the workers: API
servers are always there (workers may be GPU hosts that scale to zero, or Celery workers that only run
engines), they are what answers for expired outputs, and housekeeping never takes a slot meant for
rendering. Several API servers may sweep at once: deleting is idempotent and a task is only marked after
its files are gone, so a sweep that dies half-way is simply finished by the next one.

The API does not wait for the sweep: `Task.output_expired` is true from `expires_at` on, so links vanish
and downloads answer 410 on time; the sweep only reclaims the space (S3 lifecycle rules are a safety net
for when no API server runs, see `lifecycle.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime

from sqlalchemy import false, select

from reelforge.domain.request import GenerationRequest
from reelforge.domain.task import TaskOutput
from reelforge.storage.base import Storage
from reelforge.store.db import Database
from reelforge.store.tables import tasks, utcnow
from reelforge.tasks.lifecycle import TaskLifecycle

log = logging.getLogger(__name__)

BATCH = 100
FAILED_RETRY_SECONDS = 600.0
"""A task whose files could not be deleted is passed over this long, so a batch of tasks that keep failing
(say, AccessDenied on some keys) cannot stop the sweep from reaching the tasks behind them."""


class ExpirySweeper:
    def __init__(
        self,
        db: Database,
        storage: Storage,
        interval: float = 60.0,
        batch: int = BATCH,
        lifecycle: TaskLifecycle | None = None,
    ) -> None:
        self.db = db
        self.lifecycle = lifecycle or TaskLifecycle(db)
        self.batch = batch
        self.storage = storage
        self.interval = interval
        self._retry_at: dict[str, float] = {}  # task id -> monotonic time its deletion is tried again

    def due(self, now: datetime) -> list[tuple[str, TaskOutput | None, list[str]]]:
        """Tasks whose outputs expired but whose files were not deleted yet, oldest expiry first."""
        clock = time.monotonic()
        self._retry_at = {task_id: at for task_id, at in self._retry_at.items() if at > clock}
        query = (
            select(tasks.c.id, tasks.c.output, tasks.c.request)
            .where(tasks.c.outputs_expired == false(), tasks.c.expires_at <= now)
            .order_by(tasks.c.expires_at)
            .limit(self.batch)
        )
        if self._retry_at:
            query = query.where(tasks.c.id.not_in(list(self._retry_at)))
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        return [
            (
                row.id,
                TaskOutput.from_dict(row.output) if row.output else None,
                GenerationRequest.model_validate(row.request).stored_keys(),
            )
            for row in rows
        ]

    def sweep_once(self, now: datetime | None = None) -> int:
        """Delete due outputs and mark their tasks; returns how many tasks were handled."""
        now = now or utcnow()
        handled = 0
        for task_id, output, inputs in self.due(now):
            prefix = f"tasks/{task_id}"
            try:
                self.storage.delete_prefix(prefix)
                for key in (output.video_key, output.thumbnail_key) if output else ():
                    if not key.startswith(prefix + "/"):
                        self.storage.delete(key)
                for key in inputs:  # the uploads it was made from go with it
                    self.storage.delete(key)
            except Exception:  # storage briefly unreachable: leave the task for the next sweep
                log.exception(
                    "expiry sweep: deleting the files of task %s failed; retrying in %.0f s",
                    task_id,
                    FAILED_RETRY_SECONDS,
                )
                self._retry_at[task_id] = time.monotonic() + FAILED_RETRY_SECONDS
                continue
            self.lifecycle.mark_outputs_expired(task_id)
            handled += 1
        if handled:
            log.info("expiry sweep: deleted the outputs of %d task(s)", handled)
        return handled

    async def run(self, stop: asyncio.Event) -> None:
        """Sweep every `interval` seconds until `stop` is set; a failing sweep is logged and retried."""
        while not stop.is_set():
            try:
                while await asyncio.to_thread(self.sweep_once) >= self.batch:
                    if stop.is_set():
                        return
            except Exception:
                log.exception("expiry sweep failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)

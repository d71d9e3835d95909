"""The expiry sweep: delete finished tasks' files once `expires_at` passed, and mark those tasks.

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
from datetime import datetime

from sqlalchemy import false, select, update

from reelforge.domain.task import TaskOutput
from reelforge.storage.base import Storage
from reelforge.store.db import Database
from reelforge.store.tables import tasks, utcnow

log = logging.getLogger(__name__)

BATCH = 100


class ExpirySweeper:
    def __init__(self, db: Database, storage: Storage, interval: float = 60.0) -> None:
        self.db = db
        self.storage = storage
        self.interval = interval

    def due(self, now: datetime, limit: int = BATCH) -> list[tuple[str, TaskOutput | None]]:
        """Tasks whose outputs expired but whose files were not deleted yet, oldest expiry first."""
        query = (
            select(tasks.c.id, tasks.c.output)
            .where(tasks.c.outputs_expired == false(), tasks.c.expires_at <= now)
            .order_by(tasks.c.expires_at)
            .limit(limit)
        )
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        return [(row.id, TaskOutput.from_dict(row.output) if row.output else None) for row in rows]

    def sweep_once(self, now: datetime | None = None) -> int:
        """Delete due outputs and mark their tasks; returns how many tasks were handled."""
        now = now or utcnow()
        handled = 0
        for task_id, output in self.due(now):
            prefix = f"tasks/{task_id}"
            try:
                self.storage.delete_prefix(prefix)
                for key in (output.video_key, output.thumbnail_key) if output else ():
                    if not key.startswith(prefix + "/"):
                        self.storage.delete(key)
            except Exception:  # storage briefly unreachable: leave the task for the next sweep
                log.exception("expiry sweep: deleting the files of task %s failed; will retry", task_id)
                continue
            with self.db.write() as conn:
                conn.execute(
                    update(tasks)
                    .where(tasks.c.id == task_id, tasks.c.outputs_expired == false())
                    .values(outputs_expired=True, updated_at=utcnow())
                )
            handled += 1
        if handled:
            log.info("expiry sweep: deleted the outputs of %d task(s)", handled)
        return handled

    async def run(self, stop: asyncio.Event) -> None:
        """Sweep every `interval` seconds until `stop` is set; a failing sweep is logged and retried."""
        while not stop.is_set():
            try:
                while await asyncio.to_thread(self.sweep_once) >= BATCH:
                    if stop.is_set():
                        return
            except Exception:
                log.exception("expiry sweep failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)

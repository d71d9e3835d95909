"""`WorkQueue`: what workers call: claim a task, report progress and phases, and record its outcome.

Lock order, everywhere: the job row, then the task row (PostgreSQL would otherwise deadlock a claim against
a cancel). Outcomes reported by a worker (`owner`) count only while it still holds the lease: a worker that
lost its lease to another must not end that other worker's attempt. Status changes go through the one
writer, `TaskLifecycle`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from reelforge.config import Settings
from reelforge.domain.errors import ErrorCode
from reelforge.domain.task import Task, TaskOutput, TaskStatus
from reelforge.store.db import Database
from reelforge.store.tables import tasks, utcnow
from reelforge.tasks import jobs
from reelforge.tasks.lifecycle import TaskLifecycle

log = logging.getLogger(__name__)


class WorkQueue:
    def __init__(self, db: Database, settings: Settings, lifecycle: TaskLifecycle | None = None) -> None:
        self.db = db
        self.settings = settings
        self.lifecycle = lifecycle or TaskLifecycle(db)

    def claim(self, owner: str, *, queues: list[str] | None = None, task_id: str | None = None) -> Task | None:
        """Lease the next queued task to worker `owner` and mark it RUNNING.

        "Next" is fair between API keys and honours `max_running_per_key` (see `jobs.claim`), for every
        executor: the embedded workers' polls and the Celery workers' messages both end up here.
        """
        limit = self.settings.max_running_per_key
        if task_id is None:
            with self.db.read() as conn:
                if not jobs.has_ready(conn, queues, max_running_per_key=limit):
                    return None
        with self.db.write() as conn:
            lease = jobs.claim(
                conn,
                owner,
                self.settings.lease_seconds,
                queues=queues,
                task_id=task_id,
                for_update=self.db.for_update,
                max_running_per_key=limit,
                lock_key=self.lifecycle.lock_key,
            )
            if lease is None:
                return None
            task = self.lifecycle.load(conn, lease.task_id, lock=True)
            if task.status != TaskStatus.QUEUED:  # ended while queued (e.g. cancelled): drop the job
                jobs.finish(conn, lease.task_id)
                return None
            if lease.attempts > self.settings.max_attempts:  # the cap holds whoever re-queued it
                self.lifecycle.fail_locked(
                    conn,
                    task,
                    ErrorCode.WORKER_LOST,
                    f"this task was started {lease.attempts - 1} times without finishing; giving up",
                )
                return None
            conn.execute(
                update(tasks)
                .where(tasks.c.id == task.id)
                .values(attempts=lease.attempts, started_at=task.started_at or utcnow())
            )
            return self.lifecycle.transition(conn, self.lifecycle.load(conn, task.id), TaskStatus.RUNNING)

    def heartbeat(self, task_id: str, owner: str) -> bool:
        """Renew the lease; False when it was lost (the worker should abandon the attempt)."""
        with self.db.write() as conn:
            return jobs.renew(conn, task_id, owner, self.settings.lease_seconds)

    def cancel_requested(self, task_id: str) -> bool:
        with self.db.read() as conn:
            row = conn.execute(select(tasks.c.cancel_requested).where(tasks.c.id == task_id)).first()
        return bool(row and row.cancel_requested)

    def progress(self, task_id: str, percent: int) -> None:
        """Record progress; it only moves forward, and only while the task runs."""
        percent = max(0, min(100, int(percent)))
        with self.db.write() as conn:
            conn.execute(
                update(tasks)
                .where(tasks.c.id == task_id, tasks.c.status == TaskStatus.RUNNING.value, tasks.c.progress < percent)
                .values(progress=percent, updated_at=utcnow())
            )

    def set_phase(self, task_id: str, phase: str) -> None:
        with self.db.write() as conn:
            conn.execute(
                update(tasks)
                .where(tasks.c.id == task_id, tasks.c.status == TaskStatus.RUNNING.value)
                .values(phase=phase, updated_at=utcnow())
            )

    def complete(
        self, task_id: str, output: TaskOutput, *, owner: str | None = None, timings: dict[str, Any] | None = None
    ) -> Task:
        """Record the finished video (and where the run's seconds went); a task cancelled meanwhile ends
        CANCELLED (refunded) instead."""
        with self.db.write() as conn:
            task = self.lifecycle.lock(conn, task_id, owner=owner)
            if task is None or task.status != TaskStatus.RUNNING:
                return self.lifecycle.load(conn, task_id)  # our lease is gone, or the task already ended
            jobs.finish(conn, task_id)
            if task.cancel_requested:
                return self.lifecycle.transition(conn, task, TaskStatus.CANCELLED)
            # Output expiry (docs/storage.md): the files are kept output_ttl seconds from now (0: forever);
            # fixed here, so a later change of the setting does not move promises already made.
            ttl = self.settings.output_ttl
            conn.execute(
                update(tasks)
                .where(tasks.c.id == task_id)
                .values(
                    output=output.to_dict(),
                    progress=100,
                    expires_at=utcnow() + timedelta(seconds=ttl) if ttl > 0 else None,
                    timings=timings,
                )
            )
            return self.lifecycle.transition(conn, self.lifecycle.load(conn, task_id), TaskStatus.SUCCEEDED)

    def fail(self, task_id: str, code: ErrorCode | str, message: str, *, owner: str | None = None) -> Task:
        """End the task FAILED with a refund (exactly once, whoever calls this how often)."""
        with self.db.write() as conn:
            task = self.lifecycle.lock(conn, task_id, owner=owner)
            if task is None or task.status.is_terminal:
                return self.lifecycle.load(conn, task_id)
            return self.lifecycle.fail_locked(conn, task, code, message)

    def mark_cancelled(self, task_id: str, *, owner: str | None = None) -> Task:
        """The engine stopped on a cancel request: record CANCELLED with the refund."""
        with self.db.write() as conn:
            task = self.lifecycle.lock(conn, task_id, owner=owner)
            if task is None or task.status.is_terminal:
                return self.lifecycle.load(conn, task_id)
            jobs.finish(conn, task_id)
            return self.lifecycle.transition(conn, task, TaskStatus.CANCELLED)

    def release(self, task_id: str, owner: str, delay_seconds: float = 0.0) -> None:
        """Give a task back to the queue (a worker shutting down mid-task); the attempt does not count."""
        with self.db.write() as conn:
            task = self.lifecycle.lock(conn, task_id, owner=owner)
            if task is not None and task.status == TaskStatus.RUNNING:
                jobs.requeue(conn, task_id, delay_seconds, refund_attempt=True)
                conn.execute(update(tasks).where(tasks.c.id == task_id).values(attempts=task.attempts - 1))
                self.lifecycle.transition(conn, self.lifecycle.load(conn, task_id), TaskStatus.QUEUED)

    def reap_expired_leases(self, requeued: Callable[[Task], None] | None = None) -> int:
        """Re-queue tasks whose worker died (lease expired); past the attempt cap, fail them with refund.

        Any process may call this at any time: each job is handled in the transaction that locks it.
        `requeued` is called with each re-queued task once that is committed: an executor whose workers
        learn of work by message (Celery) must announce it again; polling workers need nothing.
        """
        handled = 0
        back: list[Task] = []
        with self.db.write() as conn:
            for task_id, attempts in jobs.expired_leases(conn, for_update=self.db.for_update):
                task = self.lifecycle.load(conn, task_id, lock=True)
                handled += 1
                if task.status != TaskStatus.RUNNING:
                    jobs.finish(conn, task_id)
                elif task.cancel_requested:
                    jobs.finish(conn, task_id)
                    self.lifecycle.transition(conn, task, TaskStatus.CANCELLED)
                elif attempts >= self.settings.max_attempts:
                    self.lifecycle.fail_locked(
                        conn,
                        task,
                        ErrorCode.WORKER_LOST,
                        f"the worker running this task stopped responding {attempts} times; giving up",
                    )
                else:
                    log.warning("task %s lost its worker (attempt %d); re-queued", task_id, attempts)
                    jobs.requeue(conn, task_id)
                    back.append(self.lifecycle.transition(conn, task, TaskStatus.QUEUED))
        if requeued is not None:
            for task in back:
                try:
                    requeued(task)
                except Exception:  # the job is queued in the table; a restart or the next sweep announces it
                    log.exception("task %s: announcing the re-queued task failed", task.id)
        return handled

    def queued_tasks(self, waiting_longer_than: float | None = None) -> list[tuple[str, str]]:
        """(task_id, model) of queued tasks (all, or those waiting longer than that many seconds), oldest
        first: what an executor that sends messages announces again after a restart or a broker loss."""
        cutoff = None if waiting_longer_than is None else utcnow() - timedelta(seconds=waiting_longer_than)
        with self.db.read() as conn:
            return jobs.queued_jobs(conn, cutoff)

    def has_waiting(self, models: list[str] | None = None) -> bool:
        """Whether any task of `models` waits in the queue, ready or not (e.g. its key at its limit)."""
        with self.db.read() as conn:
            return jobs.waiting(conn, models)

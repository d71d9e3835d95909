"""`TaskService`: the only writer of task state and credits.

Each public method is one database transaction, so a task, its debit, its job and its webhook event are
written together or not at all. Status changes go through `_transition`, which enforces the allowed
transitions and records a webhook event when the task asked for one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from reelforge.accounts import ledger
from reelforge.config import Settings
from reelforge.domain.catalog import Catalog, ModelSpec
from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.domain.ids import new_id, new_task_id
from reelforge.domain.request import GenerationRequest
from reelforge.domain.task import REFUNDED, Task, TaskOutput, TaskStatus, can_transition
from reelforge.engines.base import Engine, create_engine
from reelforge.store.db import Database
from reelforge.store.tables import api_keys, idempotency_keys, tasks, utcnow, webhook_outbox
from reelforge.tasks import jobs
from reelforge.tasks.records import row_to_task, task_snapshot

log = logging.getLogger(__name__)

# The phase a task is in right after entering a status; engines name finer phases while RUNNING.
PHASE_ON_ENTRY = {
    TaskStatus.QUEUED: "queued",
    TaskStatus.RUNNING: "started",
    TaskStatus.SUCCEEDED: "completed",
    TaskStatus.FAILED: "failed",
    TaskStatus.CANCELLED: "cancelled",
}

# Built once: the polling endpoints run this on every request.
_STATUS_BY_ID = select(tasks.c.status, tasks.c.progress, tasks.c.key_id).where(
    tasks.c.id == bindparam("task_id"), tasks.c.deleted_at.is_(None)
)


@dataclass(frozen=True)
class Submission:
    """What a dialect hands over: the canonical request plus what to echo back and where to call."""

    model: str
    request: GenerationRequest
    input: dict[str, Any]
    dialect: str
    webhook_url: str | None = None
    webhook_scheme: str = "standard"
    """`standard` (Standard Webhooks, the key's secret, every status) or `avs` (X-AVS-*, terminal only)."""
    webhook_secret: str | None = None
    extra: dict[str, Any] | None = None
    idempotency_key: str | None = None
    """The caller's `Idempotency-Key`: a repeat with the same body returns the first task, charged once."""
    request_hash: str | None = None
    """A digest of what the caller sent (dialect, model, payload, uploads), to tell a repeat from a reuse."""


class TaskService:
    def __init__(self, db: Database, settings: Settings, catalog: Catalog | None = None) -> None:
        self.db = db
        self.settings = settings
        self.catalog = catalog or settings.catalog
        self._validators: dict[str, Engine] = {}

    # ----------------------------------------------------------------- submit

    def model(self, name: str) -> ModelSpec:
        spec = self.catalog.get(name)
        if spec is None:
            raise ReelforgeError(
                ErrorCode.INVALID_MODEL,
                f"Unknown model {name!r}; available models: {', '.join(self.catalog.names)}",
            )
        return spec

    def validate(self, spec: ModelSpec, request: GenerationRequest) -> None:
        engine = self._validators.get(spec.name)
        if engine is None:
            engine = self._validators[spec.name] = create_engine(spec.engine, spec.settings)
        engine.validate(request)

    def submit(self, key_id: str, submission: Submission) -> Task:
        """Validate, price, debit and persist one task with its job, atomically.

        The caller hands the returned task to its `Executor.dispatch` once this has committed. With an
        idempotency key, a repeat returns the task the key first created (and charges nothing); two
        racing repeats are settled by the table's primary key: the loser reads the winner's task.
        """
        if submission.idempotency_key:
            earlier = self._idempotent_task(key_id, submission)
            if earlier is not None:
                return earlier
            try:
                return self._submit(key_id, submission)
            except IntegrityError:
                earlier = self._idempotent_task(key_id, submission)
                if earlier is None:
                    raise
                return earlier
        return self._submit(key_id, submission)

    def _idempotent_task(self, key_id: str, submission: Submission) -> Task | None:
        cutoff = utcnow() - timedelta(seconds=self.settings.idempotency_ttl)
        with self.db.read() as conn:
            row = conn.execute(
                select(idempotency_keys).where(
                    idempotency_keys.c.key_id == key_id,
                    idempotency_keys.c.idempotency_key == submission.idempotency_key,
                    idempotency_keys.c.created_at > cutoff,
                )
            ).first()
        if row is None:
            return None
        if row.request_hash != submission.request_hash:
            raise ReelforgeError(
                ErrorCode.IDEMPOTENCY_CONFLICT,
                "This Idempotency-Key was already used with a different request; use a new key for a new request",
            )
        return self.get(row.task_id)

    def _submit(self, key_id: str, submission: Submission) -> Task:
        spec = self.model(submission.model)
        self.validate(spec, submission.request)
        cost = spec.price(submission.request)
        now = utcnow()
        task_id = new_task_id()
        with self.db.write() as conn:
            bound = self.settings.max_queued_tasks
            if bound and jobs.queued_count(conn) >= bound:
                raise ReelforgeError(
                    ErrorCode.QUEUE_FULL,
                    f"The queue is full ({bound} tasks waiting); try again shortly",
                    retry_after=30,
                )
            self._lock_key(conn, key_id, must_be_active=True)
            available = ledger.balance(conn, key_id)
            if available < cost:
                raise ReelforgeError(
                    ErrorCode.INSUFFICIENT_CREDITS,
                    "Insufficient credits",
                )
            conn.execute(
                insert(tasks).values(
                    id=task_id,
                    key_id=key_id,
                    model=spec.name,
                    dialect=submission.dialect,
                    request=submission.request.model_dump(mode="json"),
                    input=submission.input,
                    status=TaskStatus.QUEUED.value,
                    phase="queued",
                    progress=0,
                    cost=cost,
                    attempts=0,
                    cancel_requested=False,
                    webhook_url=submission.webhook_url,
                    webhook_scheme=submission.webhook_scheme,
                    webhook_secret=submission.webhook_secret,
                    extra=submission.extra or {},
                    created_at=now,
                    updated_at=now,
                )
            )
            if cost:
                ledger.add_entry(conn, key_id, -cost, ledger.DEBIT, task_id=task_id)
            jobs.enqueue(conn, task_id, queue=spec.name, key_id=key_id)
            if submission.idempotency_key:
                # An expired record of the same key is replaced; a live one makes this insert fail.
                conn.execute(
                    delete(idempotency_keys).where(
                        idempotency_keys.c.key_id == key_id,
                        idempotency_keys.c.idempotency_key == submission.idempotency_key,
                        idempotency_keys.c.created_at <= now - timedelta(seconds=self.settings.idempotency_ttl),
                    )
                )
                conn.execute(
                    insert(idempotency_keys).values(
                        key_id=key_id,
                        idempotency_key=submission.idempotency_key,
                        request_hash=submission.request_hash or "",
                        task_id=task_id,
                        created_at=now,
                    )
                )
            task = self._load(conn, task_id)
            self._emit(conn, task, task_row_webhook(conn, task_id))
        return task

    def _lock_key(self, conn: Connection, key_id: str, *, must_be_active: bool = False) -> None:
        """Serialise debits of one key (PostgreSQL); SQLite's IMMEDIATE transaction already has.

        With `must_be_active` (submit) a key revoked since the caller authenticated is refused here, in
        the debit's transaction, so a long-lived session (`reelforge mcp`, a slow request) cannot spend
        after a revoke. Claims lock the key too but must not care: a revoked key's queued tasks still run.
        """
        query = select(api_keys.c.id, api_keys.c.revoked_at).where(api_keys.c.id == key_id)
        if self.db.for_update:
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None or (must_be_active and row.revoked_at is not None):
            raise ReelforgeError(ErrorCode.AUTH_FAILED, "Invalid or revoked API key")

    # ------------------------------------------------------------------- read

    def get(self, task_id: str, key_id: str | None = None) -> Task:
        """The task, or TASK_NOT_FOUND, also when it belongs to another key (no existence leak)."""
        with self.db.read() as conn:
            row = conn.execute(select(tasks).where(tasks.c.id == task_id)).first()
        if row is None or (key_id is not None and (row.key_id != key_id or row.deleted_at is not None)):
            raise ReelforgeError(ErrorCode.TASK_NOT_FOUND, f"Task {task_id!r} not found")
        return row_to_task(row)

    def status_of(self, task_id: str, key_id: str) -> tuple[TaskStatus, int]:
        """(status, progress) only: the cheap read behind polling endpoints."""
        with self.db.read() as conn:
            row = conn.execute(_STATUS_BY_ID, {"task_id": task_id}).first()
        if row is None or row.key_id != key_id:
            raise ReelforgeError(ErrorCode.TASK_NOT_FOUND, f"Task {task_id!r} not found")
        return TaskStatus(row.status), row.progress

    def recent(self, key_id: str, *, limit: int = 100, offset: int = 0) -> list[Task]:
        """The key's tasks, newest first."""
        with self.db.read() as conn:
            rows = conn.execute(
                select(tasks)
                .where(tasks.c.key_id == key_id, tasks.c.deleted_at.is_(None))
                .order_by(tasks.c.created_at.desc(), tasks.c.id.desc())
                .limit(limit)
                .offset(offset)
            ).all()
        return [row_to_task(row) for row in rows]

    def page(
        self, key_id: str, *, after: str | None = None, limit: int = 20, descending: bool = True
    ) -> tuple[list[Task], bool]:
        """A cursor page of the key's tasks (newest first unless not `descending`); (tasks, has_more)."""
        query = select(tasks).where(tasks.c.key_id == key_id, tasks.c.deleted_at.is_(None))
        if after is not None:
            anchor = self.get(after, key_id)
            newer = (tasks.c.created_at > anchor.created_at) | (
                (tasks.c.created_at == anchor.created_at) & (tasks.c.id > anchor.id)
            )
            older = (tasks.c.created_at < anchor.created_at) | (
                (tasks.c.created_at == anchor.created_at) & (tasks.c.id < anchor.id)
            )
            query = query.where(older if descending else newer)
        order = (tasks.c.created_at.desc(), tasks.c.id.desc()) if descending else (tasks.c.created_at, tasks.c.id)
        with self.db.read() as conn:
            rows = conn.execute(query.order_by(*order).limit(limit + 1)).all()
        return [row_to_task(row) for row in rows[:limit]], len(rows) > limit

    def delete(self, task_id: str, key_id: str) -> Task:
        """Delete a task for its owner: a queued one is cancelled (refunded), a running one is asked to
        stop (refunded when it does); the task then disappears from every API. Files are the caller's."""
        with self.db.write() as conn:
            task = self._lock(conn, task_id)
            if (
                task is None
                or task.key_id != key_id
                or (conn.execute(select(tasks.c.deleted_at).where(tasks.c.id == task_id)).scalar() is not None)
            ):
                raise ReelforgeError(ErrorCode.TASK_NOT_FOUND, f"Task {task_id!r} not found")
            if task.status == TaskStatus.QUEUED:
                jobs.finish(conn, task_id)
                task = self._transition(conn, task, TaskStatus.CANCELLED)
            now = utcnow()
            values: dict[str, Any] = {"deleted_at": now, "updated_at": now}
            if task.status == TaskStatus.RUNNING:
                values["cancel_requested"] = True
            conn.execute(update(tasks).where(tasks.c.id == task_id).values(**values))
            return self._load(conn, task_id)

    def balance(self, key_id: str) -> int:
        with self.db.read() as conn:
            return ledger.balance(conn, key_id)

    # ----------------------------------------------------------------- cancel

    def cancel(self, task_id: str, key_id: str, *, allow_running: bool = False) -> Task:
        """Cancel a queued task at once (with refund); a running one is asked to stop if allowed.

        A running task stops at the engine's next check of `ctx.cancelled()`; the worker then records
        CANCELLED and the refund.
        """
        with self.db.write() as conn:
            task = self._lock(conn, task_id)
            if task is None or task.key_id != key_id:
                raise ReelforgeError(ErrorCode.TASK_NOT_FOUND, f"Task {task_id!r} not found")
            if task.status == TaskStatus.QUEUED:
                jobs.finish(conn, task_id)
                return self._transition(conn, task, TaskStatus.CANCELLED)
            if task.status == TaskStatus.RUNNING and allow_running:
                conn.execute(
                    update(tasks).where(tasks.c.id == task_id).values(cancel_requested=True, updated_at=utcnow())
                )
                return self._load(conn, task_id)
            raise ReelforgeError(
                ErrorCode.INVALID_STATE,
                f"Task {task_id!r} cannot be cancelled: it is {task.status.value}; "
                "only a task still waiting in the queue can be cancelled",
            )

    # --------------------------------------------------------- worker side
    #
    # Lock order, everywhere: the job row, then the task row (PostgreSQL would otherwise deadlock a
    # claim against a cancel). Outcomes reported by a worker (`owner`) count only while it still holds
    # the lease: a worker that lost its lease to another must not end that other worker's attempt.

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
                lock_key=self._lock_key,
            )
            if lease is None:
                return None
            task = self._load(conn, lease.task_id, lock=True)
            if task.status != TaskStatus.QUEUED:  # ended while queued (e.g. cancelled): drop the job
                jobs.finish(conn, lease.task_id)
                return None
            if lease.attempts > self.settings.max_attempts:  # the cap holds whoever re-queued it
                self._fail_locked(
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
            return self._transition(conn, self._load(conn, task.id), TaskStatus.RUNNING)

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

    def complete(self, task_id: str, output: TaskOutput, *, owner: str | None = None) -> Task:
        """Record the finished video; a task cancelled meanwhile ends CANCELLED (refunded) instead."""
        with self.db.write() as conn:
            task = self._lock(conn, task_id, owner=owner)
            if task is None or task.status != TaskStatus.RUNNING:
                return self._load(conn, task_id)  # our lease is gone, or the task already ended
            jobs.finish(conn, task_id)
            if task.cancel_requested:
                return self._transition(conn, task, TaskStatus.CANCELLED)
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
                )
            )
            return self._transition(conn, self._load(conn, task_id), TaskStatus.SUCCEEDED)

    def fail(self, task_id: str, code: ErrorCode | str, message: str, *, owner: str | None = None) -> Task:
        """End the task FAILED with a refund (exactly once, whoever calls this how often)."""
        with self.db.write() as conn:
            task = self._lock(conn, task_id, owner=owner)
            if task is None or task.status.is_terminal:
                return self._load(conn, task_id)
            return self._fail_locked(conn, task, code, message)

    def mark_cancelled(self, task_id: str, *, owner: str | None = None) -> Task:
        """The engine stopped on a cancel request: record CANCELLED with the refund."""
        with self.db.write() as conn:
            task = self._lock(conn, task_id, owner=owner)
            if task is None or task.status.is_terminal:
                return self._load(conn, task_id)
            jobs.finish(conn, task_id)
            return self._transition(conn, task, TaskStatus.CANCELLED)

    def release(self, task_id: str, owner: str, delay_seconds: float = 0.0) -> None:
        """Give a task back to the queue (a worker shutting down mid-task); the attempt does not count."""
        with self.db.write() as conn:
            task = self._lock(conn, task_id, owner=owner)
            if task is not None and task.status == TaskStatus.RUNNING:
                jobs.requeue(conn, task_id, delay_seconds, refund_attempt=True)
                conn.execute(update(tasks).where(tasks.c.id == task_id).values(attempts=task.attempts - 1))
                self._transition(conn, self._load(conn, task_id), TaskStatus.QUEUED)

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
                task = self._load(conn, task_id, lock=True)
                handled += 1
                if task.status != TaskStatus.RUNNING:
                    jobs.finish(conn, task_id)
                elif task.cancel_requested:
                    jobs.finish(conn, task_id)
                    self._transition(conn, task, TaskStatus.CANCELLED)
                elif attempts >= self.settings.max_attempts:
                    self._fail_locked(
                        conn,
                        task,
                        ErrorCode.WORKER_LOST,
                        f"the worker running this task stopped responding {attempts} times; giving up",
                    )
                else:
                    log.warning("task %s lost its worker (attempt %d); re-queued", task_id, attempts)
                    jobs.requeue(conn, task_id)
                    back.append(self._transition(conn, task, TaskStatus.QUEUED))
        for task in back if requeued else ():
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

    # -------------------------------------------------------------- helpers

    def _lock(self, conn: Connection, task_id: str, *, owner: str | None = None) -> Task | None:
        """Lock the task's job row, then its task row, and return the task.

        With `owner`: None when that worker no longer holds the lease (its report must be ignored).
        """
        held = jobs.lock(conn, task_id, for_update=self.db.for_update)
        task = self._load(conn, task_id, lock=True)
        if owner is not None and (held is None or held.lease_owner != owner or held.state != jobs.LEASED):
            log.warning("task %s: worker %s reported after losing its lease; ignored", task_id, owner)
            return None
        return task

    def _fail_locked(self, conn: Connection, task: Task, code: ErrorCode | str, message: str) -> Task:
        jobs.finish(conn, task.id)
        conn.execute(update(tasks).where(tasks.c.id == task.id).values(error_code=str(code), error_message=message))
        return self._transition(conn, self._load(conn, task.id), TaskStatus.FAILED)

    def _load(self, conn: Connection, task_id: str, *, lock: bool = False) -> Task:
        query = select(tasks).where(tasks.c.id == task_id)
        if lock and self.db.for_update:
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise ReelforgeError(ErrorCode.TASK_NOT_FOUND, f"Task {task_id!r} not found")
        return row_to_task(row)

    def _transition(self, conn: Connection, task: Task, new: TaskStatus) -> Task:
        if not can_transition(task.status, new):
            raise ReelforgeError(
                ErrorCode.INVALID_STATE, f"Task {task.id!r} cannot go from {task.status.value} to {new.value}"
            )
        now = utcnow()
        values: dict[str, Any] = {"status": new.value, "updated_at": now, "phase": PHASE_ON_ENTRY[new]}
        if new.is_terminal:
            values["completed_at"] = now
        if new == TaskStatus.QUEUED:
            values["progress"] = 0
        conn.execute(update(tasks).where(tasks.c.id == task.id).values(**values))
        if new in REFUNDED:
            ledger.refund_once(conn, task.key_id, task.id)
        updated = self._load(conn, task.id)
        self._emit(conn, updated, task_row_webhook(conn, task.id))
        return updated

    def _emit(self, conn: Connection, task: Task, webhook: tuple[str | None, str | None]) -> None:
        """Queue a webhook event for this status, in the transaction that made the change.

        AVS webhooks announce only terminal states, as that contract says; Standard ones every status.
        """
        if not task.webhook_url:
            return
        scheme, secret = webhook
        if scheme == "avs" and not task.status.is_terminal:
            return
        now = utcnow()
        conn.execute(
            insert(webhook_outbox).values(
                id=new_id("msg_"),
                task_id=task.id,
                key_id=task.key_id,
                url=task.webhook_url,
                event_type=f"task.{task.status.value}",
                dialect=task.dialect,
                scheme=scheme or "standard",
                secret=secret,
                snapshot=task_snapshot(task),
                state="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )


def task_row_webhook(conn: Connection, task_id: str) -> tuple[str | None, str | None]:
    """(scheme, secret) of a task's webhook: kept out of `Task` so the secret never reaches a renderer."""
    row = conn.execute(select(tasks.c.webhook_scheme, tasks.c.webhook_secret).where(tasks.c.id == task_id)).first()
    return (row.webhook_scheme, row.webhook_secret) if row else (None, None)

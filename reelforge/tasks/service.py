"""`TaskService`: what the API surfaces and MCP call: submit, read, list, cancel and delete tasks.

Each public method is one database transaction, so a task, its debit, its job and its webhook event are
written together or not at all. Status changes go through the one writer, `TaskLifecycle`; what workers
call lives in `WorkQueue` (`reelforge/tasks/work.py`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from reelforge.accounts import ledger
from reelforge.config import Settings
from reelforge.domain import jsontext
from reelforge.domain.catalog import Catalog, ModelSpec
from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.domain.ids import new_task_id
from reelforge.domain.request import GenerationRequest
from reelforge.domain.task import Task, TaskStatus
from reelforge.engines.base import Engine, create_engine
from reelforge.store.db import Database
from reelforge.store.tables import idempotency_keys, tasks, utcnow
from reelforge.tasks import jobs
from reelforge.tasks.lifecycle import TaskLifecycle, task_row_webhook
from reelforge.tasks.records import row_to_task

log = logging.getLogger(__name__)

# Serialises the global queue-bound check of concurrent submits on PostgreSQL (released at commit).
_QUEUE_BOUND_LOCK = text("SELECT pg_advisory_xact_lock(7346152)")

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


def _refuse_unencodable(request: dict[str, Any], echoed: dict[str, Any], webhook_url: str | None) -> None:
    """A 400 for text UTF-8 cannot carry (a lone surrogate such as `\\ud800`): stored, it would make every
    read and list of the task fail to render. The surfaces' strict JSON parsing refuses it first; this is the
    task core's own guard for any surface that builds a request another way (a form field, an SDK)."""
    where = jsontext.unencodable_path(echoed) or jsontext.unencodable_path(request)
    if where is None and webhook_url is not None:
        where = jsontext.unencodable_path(webhook_url, "/webhookUrl")
    if where is not None:
        raise ReelforgeError(
            ErrorCode.INVALID_PAYLOAD,
            f"{where}: holds a lone UTF-16 surrogate or other text that is not valid Unicode; send valid Unicode",
            field=where,
        )


class TaskService:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        catalog: Catalog | None = None,
        *,
        lifecycle: TaskLifecycle | None = None,
        engines: dict[str, Engine] | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.catalog = catalog or settings.catalog
        self.lifecycle = lifecycle or TaskLifecycle(db)
        self._validators: dict[str, Engine] = dict(engines or {})  # built at start, or on first use

    # ----------------------------------------------------------------- submit

    def model(self, name: str) -> ModelSpec:
        spec = self.catalog.get(name)
        if spec is None:
            raise ReelforgeError(
                ErrorCode.INVALID_MODEL,
                f"Unknown model {name!r}; available models: {', '.join(self.catalog.names)}",
            )
        return spec

    def engines(self) -> dict[str, Engine]:
        """Model -> its engine as built by the start-up check (what `reelforge serve` checks the host against)."""
        return dict(self._validators)

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
        request = submission.request.model_dump(mode="json")
        _refuse_unencodable(request, submission.input, submission.webhook_url)
        cost = spec.price(submission.request)
        now = utcnow()
        task_id = new_task_id()
        with self.db.write() as conn:
            self._check_queue_room(conn, key_id)
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
                    request=request,
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
            task = self.lifecycle.load(conn, task_id)
            self.lifecycle.emit(conn, task, task_row_webhook(conn, task_id))
        return task

    def _check_queue_room(self, conn: Connection, key_id: str) -> None:
        """The global queue bound and the key's own cap, both counted under a lock held to commit.

        The key's row lock (`lock_key`) serialises one key's submits, so its cap is exact; the global count
        needs every submit serialised against the others: SQLite's IMMEDIATE transaction already is, on
        PostgreSQL a transaction-scoped advisory lock does it (only when a bound is set).
        """
        bound = self.settings.max_queued_tasks
        if bound and self.db.for_update:
            conn.execute(_QUEUE_BOUND_LOCK)
        if bound and jobs.queued_count(conn) >= bound:
            raise ReelforgeError(
                ErrorCode.QUEUE_FULL,
                f"The queue is full ({bound} tasks waiting); try again shortly",
                retry_after=30,
            )
        self.lifecycle.lock_key(conn, key_id, must_be_active=True)
        cap = self.settings.max_queued_per_key
        if cap and jobs.queued_of_key(conn, key_id) >= cap:
            raise ReelforgeError(
                ErrorCode.QUEUE_FULL,
                f"This API key already has {cap} tasks waiting (the per-key cap); submit more once some have started",
                retry_after=30,
            )

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

    def queue_position(self, task_id: str) -> int | None:
        """Where a queued task stands in its model's queue (1: next); None once it left the queue."""
        with self.db.read() as conn:
            return jobs.queue_position(conn, task_id)

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
            task = self.lifecycle.lock(conn, task_id)
            if (
                task is None
                or task.key_id != key_id
                or (conn.execute(select(tasks.c.deleted_at).where(tasks.c.id == task_id)).scalar() is not None)
            ):
                raise ReelforgeError(ErrorCode.TASK_NOT_FOUND, f"Task {task_id!r} not found")
            if task.status == TaskStatus.QUEUED:
                jobs.finish(conn, task_id)
                task = self.lifecycle.transition(conn, task, TaskStatus.CANCELLED)
            now = utcnow()
            values: dict[str, Any] = {"deleted_at": now, "updated_at": now}
            if task.status == TaskStatus.RUNNING:
                values["cancel_requested"] = True
            conn.execute(update(tasks).where(tasks.c.id == task_id).values(**values))
            return self.lifecycle.load(conn, task_id)

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
            task = self.lifecycle.lock(conn, task_id)
            if (
                task is None
                or task.key_id != key_id
                # a deleted task is gone from every API: 404, as every read of it answers
                or conn.execute(select(tasks.c.deleted_at).where(tasks.c.id == task_id)).scalar() is not None
            ):
                raise ReelforgeError(ErrorCode.TASK_NOT_FOUND, f"Task {task_id!r} not found")
            if task.status == TaskStatus.QUEUED:
                jobs.finish(conn, task_id)
                return self.lifecycle.transition(conn, task, TaskStatus.CANCELLED)
            if task.status == TaskStatus.RUNNING and allow_running:
                conn.execute(
                    update(tasks).where(tasks.c.id == task_id).values(cancel_requested=True, updated_at=utcnow())
                )
                return self.lifecycle.load(conn, task_id)
            raise ReelforgeError(
                ErrorCode.INVALID_STATE,
                f"Task {task_id!r} cannot be cancelled: it is {task.status.value}; "
                "only a task still waiting in the queue can be cancelled",
            )

"""`TaskLifecycle`: the one writer of task status, refunds and webhook events.

Every status change of every task goes through `transition` (which enforces the allowed transitions, refunds
exactly once on FAILED/CANCELLED and queues the webhook event in the same transaction), whoever asks: the API
side (`TaskService`), the workers (`WorkQueue`) and the expiry sweep (`mark_outputs_expired`). Its methods
take the caller's open write transaction, so a change and its consequences commit together or not at all.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Connection, false, insert, select, update

from reelforge.accounts import ledger
from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.domain.ids import new_id
from reelforge.domain.task import REFUNDED, Task, TaskStatus, can_transition
from reelforge.store.db import Database
from reelforge.store.tables import api_keys, tasks, utcnow, webhook_outbox
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


class TaskLifecycle:
    def __init__(self, db: Database) -> None:
        self.db = db

    def lock_key(self, conn: Connection, key_id: str, *, must_be_active: bool = False) -> None:
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

    def lock(self, conn: Connection, task_id: str, *, owner: str | None = None) -> Task | None:
        """Lock the task's job row, then its task row, and return the task.

        With `owner`: None when that worker no longer holds the lease (its report must be ignored).
        """
        held = jobs.lock(conn, task_id, for_update=self.db.for_update)
        task = self.load(conn, task_id, lock=True)
        if owner is not None and (held is None or held.lease_owner != owner or held.state != jobs.LEASED):
            log.warning("task %s: worker %s reported after losing its lease; ignored", task_id, owner)
            return None
        return task

    def fail_locked(self, conn: Connection, task: Task, code: ErrorCode | str, message: str) -> Task:
        jobs.finish(conn, task.id)
        conn.execute(update(tasks).where(tasks.c.id == task.id).values(error_code=str(code), error_message=message))
        return self.transition(conn, self.load(conn, task.id), TaskStatus.FAILED)

    def load(self, conn: Connection, task_id: str, *, lock: bool = False) -> Task:
        query = select(tasks).where(tasks.c.id == task_id)
        if lock and self.db.for_update:
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise ReelforgeError(ErrorCode.TASK_NOT_FOUND, f"Task {task_id!r} not found")
        return row_to_task(row)

    def transition(self, conn: Connection, task: Task, new: TaskStatus) -> Task:
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
        updated = self.load(conn, task.id)
        self.emit(conn, updated, task_row_webhook(conn, task.id))
        return updated

    def emit(self, conn: Connection, task: Task, webhook: tuple[str | None, str | None]) -> None:
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

    def mark_outputs_expired(self, task_id: str) -> bool:
        """Record that a task's files were deleted by the expiry sweep; False when another sweep already did."""
        with self.db.write() as conn:
            done = conn.execute(
                update(tasks)
                .where(tasks.c.id == task_id, tasks.c.outputs_expired == false())
                .values(outputs_expired=True, updated_at=utcnow())
            )
        return bool(done.rowcount)


def task_row_webhook(conn: Connection, task_id: str) -> tuple[str | None, str | None]:
    """(scheme, secret) of a task's webhook: kept out of `Task` so the secret never reaches a renderer."""
    row = conn.execute(select(tasks.c.webhook_scheme, tasks.c.webhook_secret).where(tasks.c.id == task_id)).first()
    return (row.webhook_scheme, row.webhook_secret) if row else (None, None)

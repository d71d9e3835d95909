"""Read-side queries for people browsing an account (the web console): filtered task pages, ledger pages,
webhook deliveries and the queue as an operator sees it.

Every function is scoped by `key_id` (None only for an admin's view of every key) and is one read
transaction, except `redeliver`. Another key's row is reported exactly like a missing one, so a caller can
never tell that an id exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, update

from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.domain.task import Task
from reelforge.store.db import Database
from reelforge.store.tables import api_keys, jobs, ledger, tasks, utcnow, webhook_outbox
from reelforge.tasks import jobs as job_states
from reelforge.tasks.records import row_to_task

_HTTP_STATUS = re.compile(r"^HTTP (\d{3})")


@dataclass(frozen=True)
class Page:
    rows: list[Any]
    total: int
    limit: int
    offset: int


def task_page(
    db: Database,
    key_id: str | None,
    *,
    statuses: list[str] | None = None,
    model: str | None = None,
    dialect: str | None = None,
    succeeded_with_output: bool = False,
    limit: int = 20,
    offset: int = 0,
) -> Page:
    """A page of tasks, newest first, with the total that match (deleted tasks are never listed)."""
    where: list[ColumnElement[bool]] = [tasks.c.deleted_at.is_(None)]
    if key_id is not None:
        where.append(tasks.c.key_id == key_id)
    if statuses:
        where.append(tasks.c.status.in_(statuses))
    if model:
        where.append(tasks.c.model == model)
    if dialect:
        where.append(tasks.c.dialect == dialect)
    if succeeded_with_output:
        where.append(tasks.c.output.is_not(None))
    with db.read() as conn:
        total = conn.execute(select(func.count()).select_from(tasks).where(*where)).scalar_one()
        rows = conn.execute(
            select(tasks)
            .where(*where)
            .order_by(tasks.c.created_at.desc(), tasks.c.id.desc())
            .limit(limit)
            .offset(offset)
        ).all()
    return Page([row_to_task(row) for row in rows], int(total), limit, offset)


def task_of(db: Database, task_id: str, key_id: str | None) -> Task:
    """The task, or TASK_NOT_FOUND when it is missing, deleted or (with a `key_id`) another key's."""
    with db.read() as conn:
        row = conn.execute(select(tasks).where(tasks.c.id == task_id)).first()
    if row is None or row.deleted_at is not None or (key_id is not None and row.key_id != key_id):
        raise ReelforgeError(ErrorCode.TASK_NOT_FOUND, f"Task {task_id!r} not found")
    return row_to_task(row)


def ledger_page(db: Database, key_id: str, *, limit: int = 50, offset: int = 0) -> tuple[Page, int]:
    """(a page of the key's ledger rows, newest first; the balance, the sum of every row)."""
    where = ledger.c.key_id == key_id
    with db.read() as conn:
        total = conn.execute(select(func.count()).select_from(ledger).where(where)).scalar_one()
        balance = conn.execute(select(func.coalesce(func.sum(ledger.c.amount), 0)).where(where)).scalar_one()
        rows = conn.execute(
            select(ledger, tasks.c.model, tasks.c.status)
            .select_from(ledger.outerjoin(tasks, tasks.c.id == ledger.c.task_id))
            .where(where)
            .order_by(ledger.c.id.desc())
            .limit(limit)
            .offset(offset)
        ).all()
    return Page(list(rows), int(total), limit, offset), int(balance)


def delivery_status_code(state: str, last_error: str | None) -> int | None:
    """The receiver's HTTP status as far as the outbox knows it: 2xx once delivered (the exact code is not
    kept), the code of an `HTTP nnn` failure, None for a failure that got no answer (timeout, refused)."""
    if state == "delivered":
        return 200
    match = _HTTP_STATUS.match(last_error or "")
    return int(match.group(1)) if match else None


def delivery_page(
    db: Database, key_id: str | None, *, task_id: str | None = None, limit: int = 50, offset: int = 0
) -> Page:
    where: list[ColumnElement[bool]] = []
    if key_id is not None:
        where.append(webhook_outbox.c.key_id == key_id)
    if task_id:
        where.append(webhook_outbox.c.task_id == task_id)
    with db.read() as conn:
        total = conn.execute(select(func.count()).select_from(webhook_outbox).where(*where)).scalar_one()
        rows = conn.execute(
            select(webhook_outbox)
            .where(*where)
            .order_by(webhook_outbox.c.created_at.desc(), webhook_outbox.c.id.desc())
            .limit(limit)
            .offset(offset)
        ).all()
    return Page(list(rows), int(total), limit, offset)


def delivery_of(db: Database, delivery_id: str, key_id: str | None) -> Any:
    with db.read() as conn:
        row = conn.execute(select(webhook_outbox).where(webhook_outbox.c.id == delivery_id)).first()
    if row is None or (key_id is not None and row.key_id != key_id):
        raise ReelforgeError(ErrorCode.NOT_FOUND, f"No webhook delivery {delivery_id!r}")
    return row


def redeliver(db: Database, delivery_id: str, key_id: str | None) -> Any:
    """Send a delivery again: back to pending, due now, with one more attempt allowed past a give-up.

    A delivery the dispatcher holds right now (claimed, not yet recorded) is left alone: INVALID_STATE.
    """
    now = utcnow()
    with db.write() as conn:
        row = conn.execute(select(webhook_outbox).where(webhook_outbox.c.id == delivery_id)).first()
        if row is None or (key_id is not None and row.key_id != key_id):
            raise ReelforgeError(ErrorCode.NOT_FOUND, f"No webhook delivery {delivery_id!r}")
        if row.state == "pending" and row.locked_until is not None and row.locked_until > now:
            raise ReelforgeError(ErrorCode.INVALID_STATE, "This delivery is being sent right now; wait for its outcome")
        values: dict[str, Any] = {"state": "pending", "next_attempt_at": now, "locked_until": None}
        if row.state == "failed":  # a give-up counts attempts against the limit: leave room for one more
            values["attempts"] = max(0, row.attempts - 1)
        conn.execute(update(webhook_outbox).where(webhook_outbox.c.id == delivery_id).values(**values))
        return conn.execute(select(webhook_outbox).where(webhook_outbox.c.id == delivery_id)).first()


@dataclass(frozen=True)
class QueueView:
    by_model: list[dict[str, Any]]
    by_key: list[dict[str, Any]]
    leases: list[dict[str, Any]]
    workers: list[dict[str, Any]]
    oldest_waiting: datetime | None


def queue_view(db: Database) -> QueueView:
    """Waiting and running jobs per model and per key, every lease (which worker holds which task until
    when) and the workers seen holding one. An idle worker holds no lease, so it is not listed here."""
    active = jobs.c.state.in_([job_states.QUEUED, job_states.LEASED])
    joined = jobs.join(tasks, tasks.c.id == jobs.c.task_id)
    with db.read() as conn:
        per_model = conn.execute(
            select(jobs.c.queue, jobs.c.state, func.count()).where(active).group_by(jobs.c.queue, jobs.c.state)
        ).all()
        per_key = conn.execute(
            select(tasks.c.key_id, api_keys.c.name, jobs.c.state, func.count())
            .select_from(joined.join(api_keys, api_keys.c.id == tasks.c.key_id))
            .where(active)
            .group_by(tasks.c.key_id, api_keys.c.name, jobs.c.state)
        ).all()
        leases = conn.execute(
            select(
                jobs.c.task_id,
                jobs.c.queue,
                jobs.c.lease_owner,
                jobs.c.lease_expires_at,
                jobs.c.attempts,
                tasks.c.key_id,
                tasks.c.progress,
                tasks.c.phase,
                tasks.c.started_at,
            )
            .select_from(joined)
            .where(jobs.c.state == job_states.LEASED)
            .order_by(jobs.c.lease_owner, jobs.c.task_id)
        ).all()
        oldest = conn.execute(select(func.min(jobs.c.created_at)).where(jobs.c.state == job_states.QUEUED)).scalar()
    models: dict[str, dict[str, Any]] = {}
    for queue, state, count in per_model:
        entry = models.setdefault(queue, {"model": queue, "queued": 0, "running": 0})
        entry["queued" if state == job_states.QUEUED else "running"] += int(count)
    keys: dict[str, dict[str, Any]] = {}
    for key_id, name, state, count in per_key:
        entry = keys.setdefault(key_id, {"keyId": key_id, "name": name, "queued": 0, "running": 0})
        entry["queued" if state == job_states.QUEUED else "running"] += int(count)
    lease_rows = [
        {
            "taskId": row.task_id,
            "model": row.queue,
            "keyId": row.key_id,
            "worker": row.lease_owner,
            "leaseExpiresAt": row.lease_expires_at,
            "attempts": row.attempts,
            "progress": row.progress,
            "phase": row.phase,
            "startedAt": row.started_at,
        }
        for row in leases
    ]
    workers: dict[str, dict[str, Any]] = {}
    for lease in lease_rows:
        worker = workers.setdefault(lease["worker"] or "?", {"worker": lease["worker"] or "?", "tasks": []})
        worker["tasks"].append(lease["taskId"])
    return QueueView(
        by_model=sorted(models.values(), key=lambda e: e["model"]),
        by_key=sorted(keys.values(), key=lambda e: (-e["running"] - e["queued"], e["keyId"])),
        leases=lease_rows,
        workers=list(workers.values()),
        oldest_waiting=oldest,
    )

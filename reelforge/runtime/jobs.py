"""The job table: which task a worker holds, until when (the lease), and how often it was tried.

It is the source of truth for every executor: the embedded workers poll it, and a Celery executor only
carries task ids to workers that then claim the job here. All functions take the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Row, and_, func, insert, select, update

from reelforge.store.tables import jobs, utcnow

QUEUED = "queued"
LEASED = "leased"
DONE = "done"


@dataclass(frozen=True)
class Lease:
    task_id: str
    owner: str
    attempts: int
    expires_at: datetime


def enqueue(conn: Connection, task_id: str, queue: str) -> None:
    now = utcnow()
    conn.execute(
        insert(jobs).values(
            task_id=task_id, queue=queue, state=QUEUED, attempts=0, available_at=now, created_at=now
        )
    )


def has_ready(conn: Connection, queues: list[str] | None = None) -> bool:
    """Cheap read-only check that lets idle workers poll often without taking the write lock."""
    query = select(jobs.c.task_id).where(jobs.c.state == QUEUED, jobs.c.available_at <= utcnow())
    if queues:
        query = query.where(jobs.c.queue.in_(queues))
    return conn.execute(query.limit(1)).first() is not None


def claim(conn: Connection, owner: str, lease_seconds: float, *, queues: list[str] | None = None,
          task_id: str | None = None, for_update: bool = False) -> Lease | None:
    """Lease the oldest queued job (of `queues`, or the given `task_id`) to `owner`, or None."""
    now = utcnow()
    query = select(jobs.c.task_id).where(jobs.c.state == QUEUED, jobs.c.available_at <= now)
    if queues:
        query = query.where(jobs.c.queue.in_(queues))
    if task_id:
        query = query.where(jobs.c.task_id == task_id)
    query = query.order_by(jobs.c.available_at, jobs.c.task_id).limit(1)
    if for_update:
        query = query.with_for_update(skip_locked=True)
    chosen = conn.execute(query).scalar_one_or_none()
    if chosen is None:
        return None
    expires = now + timedelta(seconds=lease_seconds)
    row = conn.execute(
        update(jobs)
        .where(jobs.c.task_id == chosen, jobs.c.state == QUEUED)
        .values(state=LEASED, lease_owner=owner, lease_expires_at=expires, attempts=jobs.c.attempts + 1)
        .returning(jobs.c.attempts)
    ).first()
    if row is None:
        return None
    return Lease(task_id=chosen, owner=owner, attempts=row.attempts, expires_at=expires)


def renew(conn: Connection, task_id: str, owner: str, lease_seconds: float) -> bool:
    """Extend `owner`'s lease; False when the lease was lost (expired and taken, or the job ended)."""
    result = conn.execute(
        update(jobs)
        .where(jobs.c.task_id == task_id, jobs.c.lease_owner == owner, jobs.c.state == LEASED)
        .values(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds))
    )
    return result.rowcount == 1


def finish(conn: Connection, task_id: str) -> None:
    conn.execute(
        update(jobs).where(jobs.c.task_id == task_id).values(state=DONE, lease_owner=None, lease_expires_at=None)
    )


def requeue(conn: Connection, task_id: str, delay_seconds: float = 0.0, *, refund_attempt: bool = False) -> None:
    """Back to the queue; `refund_attempt` when the attempt was given back rather than lost."""
    values = {
        "state": QUEUED, "lease_owner": None, "lease_expires_at": None,
        "available_at": utcnow() + timedelta(seconds=delay_seconds),
    }
    if refund_attempt:
        values["attempts"] = jobs.c.attempts - 1
    conn.execute(update(jobs).where(jobs.c.task_id == task_id).values(**values))


def lock(conn: Connection, task_id: str, *, for_update: bool) -> Row | None:
    """The job row of `task_id` (state, lease_owner), locked for the rest of the transaction."""
    query = select(jobs.c.state, jobs.c.lease_owner).where(jobs.c.task_id == task_id)
    if for_update:
        query = query.with_for_update()
    return conn.execute(query).first()


def expired_leases(conn: Connection, *, for_update: bool = False) -> list[tuple[str, int]]:
    """(task_id, attempts) of leased jobs whose worker stopped renewing."""
    query = select(jobs.c.task_id, jobs.c.attempts).where(
        and_(jobs.c.state == LEASED, jobs.c.lease_expires_at < utcnow())
    )
    if for_update:
        query = query.with_for_update(skip_locked=True)
    return [(row.task_id, row.attempts) for row in conn.execute(query)]


def queued_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).where(jobs.c.state == QUEUED)).scalar_one())

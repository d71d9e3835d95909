"""The job table: which task a worker holds, until when (the lease), and how often it was tried.

It is the source of truth for every executor: the embedded workers poll it, and a Celery executor only
carries task ids to workers that then claim the job here. All functions take the caller's transaction.

A queued job's `available_at` is both "not before" (a released job may wait) and its place in the fair
order between API keys (`enqueue`); `claim` takes the job of the least busy key, earliest place first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Row, Select, and_, func, insert, select, update

from reelforge.store.tables import jobs, tasks, utcnow

QUEUED = "queued"
LEASED = "leased"
DONE = "done"


@dataclass(frozen=True)
class Lease:
    task_id: str
    owner: str
    attempts: int
    expires_at: datetime


# Spacing of one key's consecutive places in the fair order (see `enqueue`): a backlog of 10,000 tasks
# reaches 10 ms past its submission, so `available_at` stays a true "not before" for every practical purpose.
_FAIR_STEP = timedelta(microseconds=1)
_FAIR_HORIZON = _FAIR_STEP * 10_000


def enqueue(conn: Connection, task_id: str, queue: str, key_id: str | None = None) -> None:
    """Queue `task_id`, placing it fairly among the other keys' waiting jobs.

    Start-time fair queuing with `available_at` as the tag: a key's new job goes one step after the key's
    own last waiting job, but never before the head of the queue. So when key A has 1,000 jobs waiting and
    key B submits one, B's job lands next to A's *first* waiting job, not behind all 1,000; with several
    backlogged keys, their jobs interleave one by one. The caller must hold the key's lock (submit does).
    """
    now = utcnow()
    place = now
    if key_id is not None:
        head = conn.execute(select(func.min(jobs.c.available_at)).where(jobs.c.state == QUEUED)).scalar()
        own_last = conn.execute(
            select(func.max(jobs.c.available_at))
            .select_from(jobs.join(tasks, tasks.c.id == jobs.c.task_id))
            .where(jobs.c.state == QUEUED, tasks.c.key_id == key_id)
        ).scalar()
        if own_last is not None:
            place = max(head or now, own_last + _FAIR_STEP)
        elif head is not None:
            place = min(head, now)
        place = min(place, now + _FAIR_HORIZON)  # deeper backlogs keep their order by `created_at`
    conn.execute(
        insert(jobs).values(task_id=task_id, queue=queue, state=QUEUED, attempts=0, available_at=place, created_at=now)
    )


def _candidates(now: datetime, queues: list[str] | None, task_id: str | None, max_running_per_key: int) -> Select:
    """Ready jobs in the order a worker should take them: fair between API keys.

    A key's load is how many of its jobs are leased right now (on any queue). Jobs of keys at
    `max_running_per_key` (0: no limit) are not candidates; the rest are ordered by their key's load, then
    by how long they waited. So a key with 1,000 queued tasks gets a turn like any other key instead of
    starving it: whenever a worker frees up, the least-served key that has work goes next.
    """
    running = (
        select(tasks.c.key_id, func.count().label("n"))
        .select_from(jobs.join(tasks, tasks.c.id == jobs.c.task_id))
        .where(jobs.c.state == LEASED)
        .group_by(tasks.c.key_id)
        .subquery("running")
    )
    load = func.coalesce(running.c.n, 0)
    query = (
        select(jobs.c.task_id, tasks.c.key_id)
        .select_from(
            jobs.join(tasks, tasks.c.id == jobs.c.task_id).outerjoin(running, running.c.key_id == tasks.c.key_id)
        )
        .where(jobs.c.state == QUEUED, jobs.c.available_at <= now)
    )
    if queues:
        query = query.where(jobs.c.queue.in_(queues))
    if task_id:
        query = query.where(jobs.c.task_id == task_id)
    if max_running_per_key > 0:
        query = query.where(load < max_running_per_key)
    return query.order_by(load, jobs.c.available_at, jobs.c.created_at, jobs.c.task_id)


def has_ready(conn: Connection, queues: list[str] | None = None, *, max_running_per_key: int = 0) -> bool:
    """Cheap read-only check that lets idle workers poll often without taking the write lock.

    It applies the per-key limit too, so a worker whose only waiting jobs belong to keys at their limit
    keeps polling with reads instead of taking the write lock every poll.
    """
    now = utcnow()
    ready = select(jobs.c.task_id).where(jobs.c.state == QUEUED, jobs.c.available_at <= now)
    if queues:
        ready = ready.where(jobs.c.queue.in_(queues))
    if conn.execute(ready.limit(1)).first() is None:  # the common idle case: one index probe
        return False
    if max_running_per_key <= 0:
        return True
    return conn.execute(_candidates(now, queues, None, max_running_per_key).limit(1)).first() is not None


def waiting(conn: Connection, queues: list[str] | None = None) -> bool:
    """Whether any job of `queues` is queued at all (ready or not, whatever its key's load)."""
    query = select(jobs.c.task_id).where(jobs.c.state == QUEUED)
    if queues:
        query = query.where(jobs.c.queue.in_(queues))
    return conn.execute(query.limit(1)).first() is not None


def queued_jobs(conn: Connection, placed_before: datetime | None = None) -> list[tuple[str, str]]:
    """(task_id, queue) of queued jobs (placed before `placed_before`), oldest first: to announce them again."""
    query = select(jobs.c.task_id, jobs.c.queue).where(jobs.c.state == QUEUED)
    if placed_before is not None:
        query = query.where(jobs.c.available_at < placed_before)
    return [(row.task_id, row.queue) for row in conn.execute(query.order_by(jobs.c.available_at, jobs.c.task_id))]


def claim(
    conn: Connection,
    owner: str,
    lease_seconds: float,
    *,
    queues: list[str] | None = None,
    task_id: str | None = None,
    for_update: bool = False,
    max_running_per_key: int = 0,
    lock_key: Callable[[Connection, str], None] | None = None,
) -> Lease | None:
    """Lease the fairest ready job (of `queues`, or the given `task_id`) to `owner`, or None.

    On PostgreSQL (`for_update`) concurrent claimers skip each other's candidate rows (SKIP LOCKED), and
    with a per-key limit `lock_key` serialises the claims of one key: the key's load is counted again
    under that lock, and a key found at its limit is passed over. SQLite's single writer needs neither.
    """
    now = utcnow()
    skipped_keys: list[str] = []
    for _ in range(_MAX_KEY_RETRIES):
        query = _candidates(now, queues, task_id, max_running_per_key)
        if skipped_keys:
            query = query.where(tasks.c.key_id.not_in(skipped_keys))
        query = query.limit(1)
        if for_update:
            query = query.with_for_update(skip_locked=True, of=jobs)
        chosen = conn.execute(query).first()
        if chosen is None:
            return None
        if max_running_per_key > 0 and for_update and lock_key is not None:
            lock_key(conn, chosen.key_id)
            if running_of_key(conn, chosen.key_id) >= max_running_per_key:
                skipped_keys.append(chosen.key_id)
                continue
        return _lease(conn, chosen.task_id, owner, now, lease_seconds)
    return None


# How many keys found at their limit (after a concurrent claim) one claim passes over before giving up;
# the caller simply tries again on its next poll or message.
_MAX_KEY_RETRIES = 8


def running_of_key(conn: Connection, key_id: str) -> int:
    """How many jobs of `key_id` are leased now (a fresh read: call it under the key's lock)."""
    query = (
        select(func.count())
        .select_from(jobs.join(tasks, tasks.c.id == jobs.c.task_id))
        .where(jobs.c.state == LEASED, tasks.c.key_id == key_id)
    )
    return int(conn.execute(query).scalar_one())


def _lease(conn: Connection, task_id: str, owner: str, now: datetime, lease_seconds: float) -> Lease | None:
    expires = now + timedelta(seconds=lease_seconds)
    row = conn.execute(
        update(jobs)
        .where(jobs.c.task_id == task_id, jobs.c.state == QUEUED)
        .values(state=LEASED, lease_owner=owner, lease_expires_at=expires, attempts=jobs.c.attempts + 1)
        .returning(jobs.c.attempts)
    ).first()
    if row is None:
        return None
    return Lease(task_id=task_id, owner=owner, attempts=row.attempts, expires_at=expires)


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
    """Back to the queue; `refund_attempt` when the attempt was given back rather than lost.

    Without a delay the job keeps its place in the fair order (`available_at`): a task whose worker died
    or stopped does not go behind every task submitted since.
    """
    values: dict[str, object] = {"state": QUEUED, "lease_owner": None, "lease_expires_at": None}
    if delay_seconds > 0:
        values["available_at"] = utcnow() + timedelta(seconds=delay_seconds)
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


def queue_position(conn: Connection, task_id: str) -> int | None:
    """1 for the next job its queue hands out, 2 for the one after...; None when the job is not queued.

    Counted in `available_at` order within the job's own queue (one model's workers), which is the order
    `claim` follows when keys are equally busy: an estimate for callers, not a promise.
    """
    own = conn.execute(
        select(jobs.c.queue, jobs.c.available_at).where(jobs.c.task_id == task_id, jobs.c.state == QUEUED)
    ).first()
    if own is None:
        return None
    ahead = conn.execute(
        select(func.count()).where(
            jobs.c.state == QUEUED, jobs.c.queue == own.queue, jobs.c.available_at < own.available_at
        )
    ).scalar_one()
    return int(ahead) + 1

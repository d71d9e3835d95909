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

from sqlalchemy import Connection, Row, and_, func, insert, select, text, update

from reelforge.store.tables import jobs, tasks, utcnow

QUEUED = "queued"
LEASED = "leased"
DONE = "done"

NOTIFY_CHANNEL = "reelforge_jobs"
"""PostgreSQL `NOTIFY` channel: a job was queued (the payload is its queue); idle workers `LISTEN` on it."""
_NOTIFY = text("SELECT pg_notify(:channel, :queue)")


def _announce(conn: Connection, queue: str) -> None:
    """On PostgreSQL, wake listening workers when this transaction commits (`runtime/wakeup.py`)."""
    if conn.dialect.name == "postgresql":
        conn.execute(_NOTIFY, {"channel": NOTIFY_CHANNEL, "queue": queue})


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
        own_last = conn.execute(  # one probe of ix_jobs_state_key_available
            select(func.max(jobs.c.available_at)).where(jobs.c.state == QUEUED, jobs.c.key_id == key_id)
        ).scalar()
        if own_last is not None:
            place = max(head or now, own_last + _FAIR_STEP)
        elif head is not None:
            place = min(head, now)
        place = min(place, now + _FAIR_HORIZON)  # deeper backlogs keep their order by `created_at`
    if key_id is None:
        key_id = conn.execute(select(tasks.c.key_id).where(tasks.c.id == task_id)).scalar()
    conn.execute(
        insert(jobs).values(
            task_id=task_id, key_id=key_id, queue=queue, state=QUEUED, attempts=0, available_at=place, created_at=now
        )
    )
    _announce(conn, queue)


def _loads(conn: Connection) -> dict[str, int]:
    """Running jobs per key (leased now, on any queue): as many rows as busy keys, from the leased jobs."""
    query = select(jobs.c.key_id, func.count().label("n")).where(jobs.c.state == LEASED).group_by(jobs.c.key_id)
    return {row.key_id: int(row.n) for row in conn.execute(query)}


# The keys with queued jobs, one index probe each (a "loose index scan" of ix_jobs_state_key_available: neither
# SQLite nor PostgreSQL skips through an index for DISTINCT on its own), then each key's head: its first ready job
# in the fair order. So a claim costs O(keys x log jobs) however deep one key's backlog is.
_HEADS = """
WITH RECURSIVE waiting(key_id) AS (
    SELECT MIN(key_id) FROM jobs WHERE state = 'queued'
    UNION ALL
    SELECT (SELECT MIN(j.key_id) FROM jobs j WHERE j.state = 'queued' AND j.key_id > w.key_id)
    FROM waiting w WHERE w.key_id IS NOT NULL
)
SELECT j.task_id, j.key_id, j.available_at, j.created_at
FROM waiting w
JOIN jobs j ON j.task_id = (
    SELECT h.task_id FROM jobs h
    WHERE h.state = 'queued' AND h.key_id = w.key_id AND h.available_at <= :now {queues}
    ORDER BY h.available_at, h.created_at, h.task_id
    LIMIT 1
)
WHERE w.key_id IS NOT NULL
"""


@dataclass(frozen=True, order=True)
class _Head:
    load: int
    available_at: datetime
    created_at: datetime
    task_id: str
    key_id: str


def _heads(
    conn: Connection, now: datetime, queues: list[str] | None, task_id: str | None, max_running_per_key: int
) -> list[_Head]:
    """Ready candidates in the order a worker should take them: fair between API keys.

    A key's load is how many of its jobs are leased right now (on any queue). Jobs of keys at
    `max_running_per_key` (0: no limit) are not candidates; the rest are ordered by their key's load, then
    by how long they waited. So a key with 1,000 queued tasks gets a turn like any other key instead of
    starving it: whenever a worker frees up, the least-served key that has work goes next. Only each
    key's first ready job can be first in that order, so only those heads are read.
    """
    loads = _loads(conn)
    if task_id is not None:
        query = select(jobs.c.task_id, jobs.c.key_id, jobs.c.available_at, jobs.c.created_at).where(
            jobs.c.task_id == task_id, jobs.c.state == QUEUED, jobs.c.available_at <= now
        )
        if queues:
            query = query.where(jobs.c.queue.in_(queues))
        rows = list(conn.execute(query))
    else:
        params: dict[str, object] = {"now": now}
        clause = ""
        if queues:
            clause = "AND h.queue IN ({})".format(", ".join(f":q{i}" for i in range(len(queues))))
            params.update({f"q{i}": queue for i, queue in enumerate(queues)})
        rows = list(conn.execute(text(_HEADS.format(queues=clause)).columns(*_HEAD_COLUMNS), params))
    heads = [_Head(loads.get(row.key_id, 0), row.available_at, row.created_at, row.task_id, row.key_id) for row in rows]
    if max_running_per_key > 0:
        heads = [head for head in heads if head.load < max_running_per_key]
    return sorted(heads)


_HEAD_COLUMNS = (jobs.c.task_id, jobs.c.key_id, jobs.c.available_at, jobs.c.created_at)


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
    return bool(_heads(conn, now, queues, None, max_running_per_key))


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
    skipped_keys: set[str] = set()
    heads = _heads(conn, now, queues, task_id, max_running_per_key)
    for head in heads[:_MAX_KEY_RETRIES]:
        if head.key_id in skipped_keys:
            continue
        chosen = head.task_id
        if for_update:
            # Concurrent claimers lock the heads they took: this key's first job nobody holds (SKIP LOCKED),
            # else the next key's.
            query = (
                select(jobs.c.task_id)
                .where(jobs.c.state == QUEUED, jobs.c.key_id == head.key_id, jobs.c.available_at <= now)
                .order_by(jobs.c.available_at, jobs.c.created_at, jobs.c.task_id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if task_id is not None:
                query = query.where(jobs.c.task_id == task_id)
            elif queues:
                query = query.where(jobs.c.queue.in_(queues))
            found = conn.execute(query).scalar()
            if found is None:
                continue
            chosen = found
        if max_running_per_key > 0 and for_update and lock_key is not None:
            lock_key(conn, head.key_id)
            if running_of_key(conn, head.key_id) >= max_running_per_key:
                skipped_keys.add(head.key_id)
                continue
        lease = _lease(conn, chosen, owner, now, lease_seconds)
        if lease is not None:
            return lease
    return None


# How many keys found at their limit (after a concurrent claim) one claim passes over before giving up;
# the caller simply tries again on its next poll or message.
_MAX_KEY_RETRIES = 8


def running_of_key(conn: Connection, key_id: str) -> int:
    """How many jobs of `key_id` are leased now (a fresh read: call it under the key's lock)."""
    query = select(func.count()).where(jobs.c.state == LEASED, jobs.c.key_id == key_id)
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
    requeued = conn.execute(update(jobs).where(jobs.c.task_id == task_id).values(**values).returning(jobs.c.queue))
    for row in requeued:
        _announce(conn, row.queue)


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


def queued_of_key(conn: Connection, key_id: str) -> int:
    """How many of `key_id`'s jobs are queued (a range of ix_jobs_state_key_available)."""
    query = select(func.count()).where(jobs.c.state == QUEUED, jobs.c.key_id == key_id)
    return int(conn.execute(query).scalar_one())


def live_leases(conn: Connection) -> dict[str, int]:
    """{task_id: attempts} of jobs leased to a worker that is still renewing: whose scratch folders are in use."""
    query = select(jobs.c.task_id, jobs.c.attempts).where(
        and_(jobs.c.state == LEASED, jobs.c.lease_expires_at >= utcnow())
    )
    return {row.task_id: row.attempts for row in conn.execute(query)}

"""`PollReads`: the polling reads (a task's status or whole row, with its caller's credential) in batches.

Why: a status poll is the hottest request of every dialect, and its database work is two indexed reads.
Sending each poll's reads through the thread pool costs more than the reads (a hand-off, a context copy
and a wake-up per request; PostgreSQL's round trips also serialise on the pool). Here the event loop
puts a poll on a queue and awaits a future; one dedicated thread takes everything that is waiting, reads
it with one query per table (`IN (...)`: one round trip for a whole batch on PostgreSQL), and hands all
answers back with one wake-up of the loop. Under load a batch holds every poll that arrived during the
previous one, so the cost per poll falls as the load rises; an idle server answers one poll with one
batch. Nothing is cached: every answer is read after the poll arrived, so a state change (a completion,
a revoked key or token, a deletion) shows in the very next poll.

The credential is checked here too (the key by the hash of its secret, an AVS token by id and hash,
each with the revocation of the key), so a poll needs no separate authentication read. What is not a
clean success (unknown credential, no such task, another key's task) answers None: the caller then takes
the full path, which says precisely what is wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import queue
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, select

from reelforge.accounts.keys import hash_secret
from reelforge.domain.request import GenerationRequest
from reelforge.domain.task import Task, TaskStatus
from reelforge.store.db import Database
from reelforge.store.tables import api_keys, api_tokens, tasks
from reelforge.tasks.records import row_to_task

log = logging.getLogger(__name__)

# The task and its key in one statement (one round trip for a batch on PostgreSQL); the caller's secret hash
# is compared in Python, so the query is the same whoever asks.
_KEY_OF_TASK = (api_keys.c.secret_hash.label("key_secret_hash"), api_keys.c.revoked_at.label("key_revoked_at"))
# The status read in the driver's own SQL (no compiling of the expanding IN per batch: measured, that cost
# more than the read); its columns are plain strings and numbers, so no result processing is skipped.
_STATUS_SQL = (
    "SELECT t.id, t.key_id, t.status, t.progress, k.secret_hash, k.revoked_at"
    " FROM tasks t JOIN api_keys k ON k.id = t.key_id WHERE t.id IN ({}) AND t.deleted_at IS NULL"
)


class _StatusRow(NamedTuple):
    id: str
    key_id: str
    status: str
    progress: int
    key_secret_hash: str
    key_revoked_at: object


_FULL = (
    select(tasks, *_KEY_OF_TASK)
    .join(api_keys, api_keys.c.id == tasks.c.key_id)
    .where(tasks.c.id.in_(bindparam("ids", expanding=True)), tasks.c.deleted_at.is_(None))
)
_TOKENS = (
    select(api_tokens.c.id, api_tokens.c.key_id, api_tokens.c.kind, api_tokens.c.secret_hash)
    .join(api_keys, api_keys.c.id == api_tokens.c.key_id)
    .where(
        api_tokens.c.id.in_(bindparam("ids", expanding=True)),
        api_tokens.c.revoked_at.is_(None),
        api_keys.c.revoked_at.is_(None),
    )
)
_MAX_BATCH = 256
_REQUESTS_KEPT = 4096


@dataclass(frozen=True)
class Credential:
    """What a poll presented: an API key's secret hash, or an AVS token (`avs.<id>.<secret>`) of `kind`."""

    secret_hash: str
    token_id: str | None = None
    kind: str = "public_api"

    @classmethod
    def of_key(cls, secret: str) -> Credential:
        return cls(hash_secret(secret))

    @classmethod
    def of_token(cls, presented: str, kind: str = "public_api") -> Credential | None:
        parts = presented.split(".")
        if len(parts) != 3 or parts[0] != "avs" or not parts[1]:
            return None
        return cls(hash_secret(parts[2]), token_id=parts[1], kind=kind)


@dataclass(frozen=True)
class Polled:
    """A clean answer: the caller's key, and the task's status and progress (and the task, when asked)."""

    key_id: str
    status: TaskStatus
    progress: int
    task: Task | None = None


@dataclass
class _Ask:
    task_id: str
    credential: Credential
    full: bool
    future: asyncio.Future[Polled | None]


class PollReads:
    """The batching reader of one process; its thread starts with the first poll, daemon, one per app."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._queue: queue.SimpleQueue[_Ask | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._start_lock = threading.Lock()
        self._conn: Connection | None = None
        self._requests: OrderedDict[str, GenerationRequest] = OrderedDict()  # used by the reader thread only

    async def read(self, task_id: str, credential: Credential, *, full: bool = False) -> Polled | None:
        """The task for this credential, read after this call began; None unless both check out."""
        loop = asyncio.get_running_loop()
        if self._thread is None or self._loop is not loop:
            self._start(loop)
        future: asyncio.Future[Polled | None] = loop.create_future()
        self._queue.put(_Ask(task_id, credential, full, future))
        return await future

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._start_lock:
            if self._thread is not None and self._loop is loop:
                return
            if self._thread is not None:  # a new event loop (an app served twice): a new thread for it
                self._queue.put(None)
                self._queue = queue.SimpleQueue()
            self._loop = loop
            self._thread = threading.Thread(target=self._run, args=(self._queue, loop), name="poll-reads", daemon=True)
            self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread = None

    def _run(self, source: queue.SimpleQueue[_Ask | None], loop: asyncio.AbstractEventLoop) -> None:
        try:
            self._serve(source, loop)
        finally:
            self._disconnect()

    def _connection(self) -> Connection:
        """The thread's own connection, kept between batches (a checkout per batch cost more than the
        reads); autocommit, so no snapshot or transaction outlives a batch."""
        if self._conn is None:
            self._conn = self.db.read_engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    def _disconnect(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def _serve(self, source: queue.SimpleQueue[_Ask | None], loop: asyncio.AbstractEventLoop) -> None:
        while True:
            first = source.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < _MAX_BATCH:
                try:
                    more = source.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            try:
                answers: list[Polled | None] | BaseException = self._answer(batch)
            except Exception as exc:  # the callers take the full path, which reports the failure
                log.warning("batched poll read failed: %s", exc)
                answers = exc
                self._disconnect()  # a broken connection is not reused
            try:
                loop.call_soon_threadsafe(_deliver, batch, answers)
            except RuntimeError:  # the loop closed while we read
                return
            if stop:
                return

    def _request_of(self, row: Any) -> GenerationRequest:
        """The row's request, validated once per task (it never changes after submit; bounded LRU)."""
        request = self._requests.get(row.id)
        if request is None:
            request = GenerationRequest.model_validate(row.request)
            self._requests[row.id] = request
            if len(self._requests) > _REQUESTS_KEPT:
                self._requests.popitem(last=False)
        else:
            self._requests.move_to_end(row.id)
        return request

    def _answer(self, batch: list[_Ask]) -> list[Polled | None]:
        full_ids = {ask.task_id for ask in batch if ask.full}
        status_ids = {ask.task_id for ask in batch if not ask.full} - full_ids
        token_ids = {ask.credential.token_id for ask in batch if ask.credential.token_id is not None}
        conn = self._connection()
        rows: dict[str, Any] = {}
        if full_ids:
            rows.update((row.id, row) for row in conn.execute(_FULL, {"ids": sorted(full_ids)}))
        if status_ids:
            marker = "?" if self.db.is_sqlite else "%s"
            sql = _STATUS_SQL.format(", ".join([marker] * len(status_ids)))
            for values in conn.exec_driver_sql(sql, tuple(status_ids)):
                rows[values[0]] = _StatusRow(*values)
        token_rows = {row.id: row for row in conn.execute(_TOKENS, {"ids": sorted(token_ids)})} if token_ids else {}
        converted: dict[str, Task] = {}
        answers: list[Polled | None] = []
        for ask in batch:
            row = rows.get(ask.task_id)
            key_id = _key_of(ask.credential, row, token_rows) if row is not None else None
            if key_id is None or row is None or row.key_id != key_id:
                answers.append(None)
                continue
            task = None
            if ask.full:
                task = converted.get(ask.task_id)
                if task is None:
                    task = converted[ask.task_id] = row_to_task(row, self._request_of(row))
            answers.append(Polled(key_id, TaskStatus(row.status), row.progress, task))
        return answers


def _key_of(credential: Credential, task_row: Any, tokens: dict[str, Any]) -> str | None:
    """The key the credential authenticates, if active (for a key: only the task's own key is looked at)."""
    if credential.token_id is None:
        if task_row.key_revoked_at is not None:
            return None
        return str(task_row.key_id) if hmac.compare_digest(task_row.key_secret_hash, credential.secret_hash) else None
    row = tokens.get(credential.token_id)
    if row is None or row.kind != credential.kind or not hmac.compare_digest(row.secret_hash, credential.secret_hash):
        return None
    return str(row.key_id)


def _deliver(batch: list[_Ask], answers: list[Polled | None] | BaseException) -> None:
    for index, ask in enumerate(batch):
        if ask.future.done():  # the poll was abandoned (client gone)
            continue
        if isinstance(answers, BaseException):
            ask.future.set_result(None)
        else:
            ask.future.set_result(answers[index])

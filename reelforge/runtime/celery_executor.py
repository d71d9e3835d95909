"""The `celery` executor: tells workers on any host of queued tasks through a message broker.

A message means "a task of these models is waiting"; the worker that takes it claims the *fairest* ready
task of those models from the job table (`TaskService.claim`), which need not be the task the message
was sent for. So the broker's first-in-first-out order never decides who runs next: fairness between keys
and the per-key limit are the job table's, as with the embedded executor. Every entry of a task into the
queue sends one message (submit, a re-queue by the reaper, a worker giving a task back), so there are at
least as many messages for a queue as tasks waiting in it; a message that finds nothing waiting is
dropped, one that finds only tasks it may not run yet goes back to its queue (`celery_worker`).

Messages are sent after the task's transaction committed, from a background thread, so an HTTP handler
never blocks on the broker and a broker outage delays messages instead of failing requests. A message lost
anyway (the process died before sending, or a broker restarted without persistence) is sent again when an
API server starts (`announce_queued`), or by a periodic check for tasks stranded without one
(`announce_stranded`). The lease reaper runs here too: it re-queues the tasks of workers
that vanished and announces them again, which polling workers never needed.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from typing import TYPE_CHECKING

from reelforge.domain.task import Task
from reelforge.runtime.celery_app import TASK_NAME, create_celery_app, queue_name, queues_for
from reelforge.services import Services

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger(__name__)

_STOP = object()


class CeleryExecutor:
    def __init__(
        self, services: Services, app: Celery | None = None, *, announce_on_start: bool = True, reap: bool = True
    ) -> None:
        self.services = services
        self.settings = services.settings
        self.app = app or create_celery_app(self.settings)
        self.announce_on_start = announce_on_start
        self.reap = reap
        self._outbox: queue.Queue[tuple[str, str] | object] = queue.Queue()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sent = 0

    # ------------------------------------------------------------- Executor

    def start(self) -> None:
        """Start sending, re-announce what waits (a restart loses nothing), and reap leases periodically."""
        sender = threading.Thread(target=self._send_loop, name="celery-sender", daemon=True)
        self._threads.append(sender)
        sender.start()
        if self.announce_on_start:
            self.announce_queued()
        if self.reap:
            reaper = threading.Thread(target=self._reap_loop, name="lease-reaper", daemon=True)
            self._threads.append(reaper)
            reaper.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop reaping and send what is still waiting to be sent (up to `timeout` seconds)."""
        self._stopping.set()
        self._outbox.put(_STOP)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if not self._outbox.empty():
            log.warning(
                "celery executor stopped with %d messages unsent; they are re-sent when an API server starts",
                self._outbox.qsize(),
            )

    def dispatch(self, task: Task) -> None:
        """Announce a committed task to the workers of its model (returns at once; sent in the background)."""
        self.announce(task.id, task.model)

    def cancel(self, task_id: str) -> None:
        """Nothing to send: cancel is cooperative through the job table, as with the embedded executor."""

    # -------------------------------------------------------------- helpers

    def announce(self, task_id: str, model: str) -> None:
        self._outbox.put((task_id, model))

    def announce_queued(self) -> int:
        """Announce every queued task again (extra messages are harmless, a missing one strands a task)."""
        waiting = self.services.work.queued_tasks()
        for task_id, model in waiting:
            self.announce(task_id, model)
        if waiting:
            log.info("announced %d queued tasks to the celery workers", len(waiting))
        return len(waiting)

    def announce_stranded(self) -> int:
        """Announce again the tasks waiting longer than `celery_reannounce_interval` in a queue for which the
        broker holds no message: their messages were lost (a broker restarted without its data).

        A queue whose messages are all held by workers (waiting for keys at their limit) also looks empty;
        it then gets some extra messages, which are harmless. Returns how many tasks were announced.
        """
        stale = self.services.work.queued_tasks(waiting_longer_than=self.settings.celery_reannounce_interval)
        by_queue: dict[str, list[tuple[str, str]]] = {}
        for task_id, model in stale:
            by_queue.setdefault(queue_name(self.settings, model), []).append((task_id, model))
        announced = 0
        if not by_queue:
            return 0
        with self.app.connection_for_write() as conn:
            for name, waiting in by_queue.items():
                if _ready_messages(conn, name) == 0:
                    log.warning(
                        "queue %s holds no message for %d waiting tasks; announcing them again", name, len(waiting)
                    )
                    for task_id, model in waiting:
                        self.announce(task_id, model)
                    announced += len(waiting)
        return announced

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every announcement so far was handed to the broker; False on timeout."""
        deadline = time.monotonic() + timeout
        while self._outbox.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._outbox.unfinished_tasks

    def _send(self, task_id: str, model: str) -> None:
        name = queue_name(self.settings, model)
        models = queues_for(self.settings, [model])[name] if model in self.settings.catalog.names else [model]
        self.app.send_task(TASK_NAME, args=[task_id, models], queue=name, ignore_result=True)
        self._sent += 1

    def _send_loop(self) -> None:
        backoff = 0.5
        while True:
            item = self._outbox.get()
            try:
                if item is _STOP:
                    if self._outbox.empty():
                        return
                    self._outbox.put(_STOP)  # send the rest first
                    continue
                assert isinstance(item, tuple)
                task_id, model = item
                while True:
                    try:
                        self._send(task_id, model)
                        backoff = 0.5
                        break
                    except Exception:
                        if self._stopping.is_set():
                            raise
                        log.exception("sending task %s to the broker failed; retrying in %.1fs", task_id, backoff)
                        time.sleep(backoff)
                        backoff = min(backoff * 2, 30.0)
            except Exception:
                log.exception("celery executor: a message could not be sent")
            finally:
                self._outbox.task_done()

    def _reap_loop(self) -> None:
        interval = max(1.0, self.settings.lease_seconds / 3)
        sweep_every = self.settings.celery_reannounce_interval if self.announce_on_start else 0
        last_sweep = time.monotonic()
        while not self._stopping.wait(interval):
            try:
                self.services.work.reap_expired_leases(requeued=self.dispatch)
                if sweep_every > 0 and time.monotonic() - last_sweep >= sweep_every:
                    last_sweep = time.monotonic()
                    self.announce_stranded()
            except Exception:  # the database or broker is briefly unreachable: try again next round
                log.exception("reaping expired leases or re-announcing stranded tasks failed")


def _ready_messages(conn: object, name: str) -> int:
    """Messages ready in queue `name` (0 when the broker does not know the queue)."""
    channel = conn.channel()  # type: ignore[attr-defined]
    try:
        return int(channel.queue_declare(queue=name, passive=True).message_count)
    except Exception:  # NOT_FOUND: never declared, or gone with the broker's data
        return 0
    finally:
        with contextlib.suppress(Exception):
            channel.close()

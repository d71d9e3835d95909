"""The worker side of the `celery` executor: `reelforge worker --executor celery --models a,b`.

A Celery worker with the solo pool (one task at a time in this process: one GPU, its models loaded once)
consuming only the queues of its models. Each message runs `Handler.handle`, which claims through the job
table and then runs the task on the same `Worker.execute` path as the embedded workers (heartbeats, lease,
cooperative cancel, storing, reporting). The message is acknowledged only after that, and a worker that
dies meanwhile is recovered by its lease: the reaper re-queues the task and announces it again, and
`attempts` in the job table caps how often that happens, so a task that kills its worker cannot loop.
"""

from __future__ import annotations

import logging
import os
import socket
import time

from reelforge.domain.task import TaskStatus
from reelforge.runtime.celery_app import TASK_NAME, create_celery_app, queues_for
from reelforge.runtime.loader import build_executor
from reelforge.runtime.worker import Worker
from reelforge.services import Services

log = logging.getLogger(__name__)


class Handler:
    """What one message does in this worker process."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.tasks = worker.services.tasks
        self.work = worker.services.work
        self.settings = worker.settings

    def handle(self, task_id: str, models: list[str]) -> bool:
        """Run one waiting task of `models`; True if one ran, False if the message was not needed.

        Raises `celery.exceptions.Reject(requeue=True)` to give the message back to its queue when it
        cannot be used now but is still needed: every task waiting belongs to a key at its running limit
        (or is not ready yet) for `celery_message_wait` seconds, or this worker is shutting down.
        """
        from celery.exceptions import Reject

        try:
            return self._handle(task_id, models)
        except Reject:
            raise
        except Exception:  # e.g. the database is unreachable: keep the message (acks_late would drop it)
            log.exception("message for task %s could not be handled; it goes back to its queue", task_id)
            self.worker.stop_event.wait(1.0)
            raise Reject("handling failed", requeue=True) from None

    def _handle(self, task_id: str, models: list[str]) -> bool:
        from celery.exceptions import Reject

        deadline = time.monotonic() + self.settings.celery_message_wait
        pause = max(self.settings.poll_interval, 0.2)
        while True:
            if self.worker.stop_event.is_set():
                raise Reject("worker shutting down", requeue=True)
            task = self.work.claim(self.worker.name, queues=models)
            if task is not None:
                if task.id != task_id:
                    log.info("message for task %s ran task %s (fairest waiting)", task_id, task.id)
                self.worker.execute(task)
                if self.worker.stop_event.is_set() and self.tasks.get(task.id).status == TaskStatus.QUEUED:
                    raise Reject("task given back on shutdown", requeue=True)  # its message goes back with it
                return True
            if not self.work.has_waiting(models):
                return False  # an extra message (its task ran on another message, or was cancelled)
            if time.monotonic() >= deadline:
                raise Reject("no task may run yet", requeue=True)
            self.worker.stop_event.wait(pause)


def run_celery_worker(
    services: Services, *, models: list[str] | None = None, name: str | None = None, log_level: str = "INFO"
) -> None:
    """Run a Celery worker for `models` (default: all) until SIGTERM/SIGINT; the running task is given back."""
    from celery import signals

    settings = services.settings
    app = create_celery_app(settings)
    queues = queues_for(settings, models)
    served = sorted({model for group in queues.values() for model in group})
    name = name or f"reelforge-{socket.gethostname()}-{os.getpid()}"
    worker = Worker(services, name=name, models=served)
    handler = Handler(worker)

    @app.task(name=TASK_NAME, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
    def run(task_id: str, models: list[str]) -> bool:
        return handler.handle(task_id, models)

    def shutting_down(**_: object) -> None:
        log.info("worker %s: stopping; a running task goes back to the queue", name)
        worker.stop_event.set()

    signals.worker_shutting_down.connect(shutting_down, weak=False)
    # Announces tasks this worker's reaper re-queues; announcing everything queued is the API's job.
    executor = build_executor(services, kind="celery", celery_app=app, announce_on_start=False)
    executor.start()
    log.info("celery worker %s: queues %s (models: %s)", name, ", ".join(queues), ", ".join(served))
    try:
        app.Worker(
            hostname=f"{name}@{socket.gethostname()}",
            pool_cls="solo",
            concurrency=1,
            queues=list(queues),
            loglevel=log_level,
            without_gossip=True,
            without_mingle=True,
            without_heartbeat=True,
            redirect_stdouts=False,
        ).start()
    finally:
        executor.stop()

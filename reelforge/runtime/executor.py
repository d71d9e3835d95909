"""The `Executor` protocol: how a submitted task reaches a worker.

The job table is the source of truth for every executor; an executor only decides how workers learn that
there is work (polling for the embedded one, a broker message for Celery) and how they are run. Engines and
dialects never see it.
"""

from __future__ import annotations

from typing import Protocol

from reelforge.domain.task import Task


class Executor(Protocol):
    def start(self) -> None:
        """Start whatever runs the workers (called once when the server starts)."""

    def stop(self) -> None:
        """Stop them, giving running tasks back to the queue."""

    def dispatch(self, task: Task) -> None:
        """A task was committed to the job table; make sure a worker will pick it up."""

    def cancel(self, task_id: str) -> None:
        """A cancel was recorded; wake whatever runs the task (the engine also polls `ctx.cancelled()`)."""

"""A RunContext for engine tests: the runtime itself is tested in tests/runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reelforge.engines.base import TaskCancelled


class FakeContext:
    """A RunContext that reads inputs from a dict and records progress; cancels after N checks if asked."""

    def __init__(self, workdir: Path, inputs: dict[str, bytes] | None = None, cancel_after: int | None = None) -> None:
        self.task_id = "task-test"
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.inputs = inputs or {}
        self.cancel_after = cancel_after
        self.cancel_checks = 0
        self.reported: list[float] = []
        self.phases: list[str] = []
        self.timings: dict[str, Any] | None = None

    def progress(self, percent: float) -> None:
        self.reported.append(percent)

    def phase(self, name: str) -> None:
        self.phases.append(name)

    def record_timings(self, timings: dict[str, Any]) -> None:
        self.timings = dict(timings)

    def cancelled(self) -> bool:
        self.cancel_checks += 1
        return self.cancel_after is not None and self.cancel_checks > self.cancel_after

    def raise_if_cancelled(self) -> None:
        if self.cancelled():
            raise TaskCancelled()

    def read_input(self, source: str) -> bytes:
        return self.inputs[source]

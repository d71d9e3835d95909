"""Poll advice: how long a caller should wait before asking about a task again.

One function for every surface, so the OpenAI dialect's `openai-poll-after-ms` header, the MCP tools'
`poll_after_ms` and the MCP tasks extension's `pollIntervalMs` always agree. It lives in `domain/` (pure
code, no I/O) because both `api/` and `mcp/` use it and neither may import the other.

The advice scales with how long the task is expected to take: a quarter of the expected remaining time,
between 1 s and 30 s (queued tasks at least 2 s, as nothing can be seen sooner). A 5 s draft render is
polled every second or two; a 40-minute GPU render every 30 s, so an agent spends a few dozen polls on it,
not thousands. The expected time is the model's `expected_seconds` in `models.toml`, or the output's
length when the catalog does not say.
"""

from __future__ import annotations

from reelforge.domain.catalog import ModelSpec
from reelforge.domain.task import Task, TaskStatus

MIN_POLL_MS = 1_000
MIN_QUEUED_POLL_MS = 2_000
MAX_POLL_MS = 30_000
SHARE_OF_REMAINING = 0.25


def expected_seconds(spec: ModelSpec | None, output_seconds: float) -> float:
    """How long one task of `spec` is expected to run: the catalog's figure, else the output's length."""
    if spec is not None and spec.expected_seconds is not None:
        return spec.expected_seconds
    return max(1.0, output_seconds)


def poll_after_ms(status: TaskStatus, progress: int, expected: float) -> int | None:
    """Milliseconds before the next poll could show something new; None once the task ended."""
    if status.is_terminal:
        return None
    if status == TaskStatus.QUEUED:
        advice, floor = expected * 1000 * SHARE_OF_REMAINING, MIN_QUEUED_POLL_MS
    else:
        remaining = expected * max(0.0, 1 - min(progress, 100) / 100)
        advice, floor = remaining * 1000 * SHARE_OF_REMAINING, MIN_POLL_MS
    return int(round(min(MAX_POLL_MS, max(floor, advice)), -2))


def task_poll_after_ms(task: Task, spec: ModelSpec | None) -> int | None:
    """`poll_after_ms` for a task of the catalog model `spec` (None when the model left the catalog)."""
    return poll_after_ms(task.status, task.progress, expected_seconds(spec, task.request.duration))

"""Absolute, signed links to a task's files, as every dialect hands them out.

This is the one place that decides whether a task's files can still be linked: once the output expired
(`Task.expires_at`, see docs/storage.md) there is no URL, `expired()` says so and `expired_error()` is the
410 every download route answers, so all dialects agree. A link never outlives the output it points to, and
`link_expiry()` is the moment it stops working, which is what every dialect's expiry field reports.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.domain.task import Task
from reelforge.storage.base import Storage


@dataclass(frozen=True)
class Links:
    storage: Storage
    base_url: str
    ttl_seconds: int
    now: float | None = None
    """Fixed signing time (webhook bodies are rendered from the event time, so retries are identical)."""

    def _now(self) -> float:
        return self.now if self.now is not None else time.time()

    def expires_at(self) -> float:
        """When links made now stop working (epoch seconds), leaving the output's own expiry aside."""
        return self._now() + self.ttl_seconds

    def link_expires_at(self, task: Task) -> float:
        """When the links made now for `task` stop working: the link TTL (and the storage's own limit on a
        link, S3's 7 days for presigned URLs), cut at the output's expiry."""
        ends = self.expires_at()
        most = getattr(self.storage, "max_link_seconds", None)
        if most is not None:
            ends = min(ends, self._now() + most)
        if task.expires_at is not None:
            ends = min(ends, task.expires_at.timestamp())
        return ends

    def link_expiry(self, task: Task) -> datetime:
        """`link_expires_at` as a UTC datetime, to the second the signature carries: what every dialect's
        expiry field says (AVS `result.expiresAt`, AIVideoMaker `output.expiresAt`)."""
        return datetime.fromtimestamp(math.floor(self.link_expires_at(task)), UTC)

    def url(self, path: str) -> str:
        return f"{self.base_url.rstrip('/')}{path}"

    def expired(self, task: Task) -> bool:
        """True when the task had an output whose files expired (deleted, or due to be)."""
        return task.output_expired(datetime.fromtimestamp(self._now(), UTC))

    def video_url(self, task: Task) -> str | None:
        if task.output is None or self.expired(task):
            return None
        return self._signed(task, task.output.video_key)

    def thumbnail_url(self, task: Task) -> str | None:
        if task.output is None or self.expired(task):
            return None
        return self._signed(task, task.output.thumbnail_key)

    def poster_url(self, task: Task) -> str | None:
        """The full-size still a compose render captured at `output.poster`; None when none was asked for."""
        if task.output is None or task.output.poster_key is None or self.expired(task):
            return None
        return self._signed(task, task.output.poster_key)

    def _signed(self, task: Task, key: str) -> str:
        # Whole seconds from the whole second of `now`, so the signature's `expires` is exactly `link_expiry`.
        ttl = max(1, math.floor(self.link_expires_at(task)) - math.floor(self._now()))
        return self.storage.signed_url(self.base_url, key, ttl, now=math.floor(self._now()))


def expired_message(task: Task) -> str:
    """What a user reads when asking for an expired output: what happened, when, and what to do."""
    when = task.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ") if task.expires_at else "an earlier time"
    return (
        f"the output of task {task.id} expired at {when} and its files were deleted "
        "(outputs are kept REELFORGE_OUTPUT_TTL seconds after completion); submit the request again "
        "to regenerate it"
    )


def expired_error(task: Task) -> ReelforgeError:
    return ReelforgeError(ErrorCode.OUTPUT_EXPIRED, expired_message(task))

"""The task: what a caller asked for, where it stands, and what it produced."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from reelforge.domain.request import GenerationRequest


class TaskStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED})

# RUNNING -> QUEUED is the re-queue of a task whose worker lost its lease.
ALLOWED_TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.QUEUED: frozenset({TaskStatus.RUNNING, TaskStatus.CANCELLED, TaskStatus.FAILED}),
    TaskStatus.RUNNING: frozenset({TaskStatus.QUEUED, TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED}),
    TaskStatus.SUCCEEDED: frozenset(),
    TaskStatus.FAILED: frozenset(),
    TaskStatus.CANCELLED: frozenset(),
}

# Statuses that give the credits back.
REFUNDED = frozenset({TaskStatus.FAILED, TaskStatus.CANCELLED})


def can_transition(current: TaskStatus, new: TaskStatus) -> bool:
    return new in ALLOWED_TRANSITIONS[current]


@dataclass(frozen=True)
class TaskOutput:
    """Where the finished video lives (storage keys, not URLs: URLs are signed per response)."""

    video_key: str
    thumbnail_key: str
    duration: float
    width: int
    height: int
    fps: float
    poster_key: str | None = None  # a full-size still (compose `output.poster`), when one was asked for
    spritesheet_key: str | None = None  # a JPEG grid of sampled frames (None: made before spritesheets existed)

    def to_dict(self) -> dict[str, Any]:
        data = {
            "video_key": self.video_key,
            "thumbnail_key": self.thumbnail_key,
            "duration": self.duration,
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
        }
        if self.poster_key is not None:
            data["poster_key"] = self.poster_key
        if self.spritesheet_key is not None:
            data["spritesheet_key"] = self.spritesheet_key
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskOutput:
        known = {k: data[k] for k in ("video_key", "thumbnail_key", "duration", "width", "height", "fps")}
        return cls(**known, poster_key=data.get("poster_key"), spritesheet_key=data.get("spritesheet_key"))


@dataclass(frozen=True)
class Task:
    id: str
    key_id: str
    model: str
    dialect: str
    request: GenerationRequest
    input: dict[str, Any]
    status: TaskStatus
    progress: int
    cost: int
    attempts: int
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    output: TaskOutput | None = None
    error_code: str | None = None
    error_message: str | None = None
    webhook_url: str | None = None
    cancel_requested: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    phase: str | None = None
    """What a running task is doing (engine-defined, e.g. `rendering`); the status name once it ended."""
    expires_at: datetime | None = None
    """When the output's files are deleted (completion + `output_ttl`); None: kept forever."""
    outputs_expired: bool = False
    """The expiry sweep deleted the files (the output's metadata stays)."""
    timings: dict[str, Any] | None = None
    """Where the successful run's seconds went: the engine's stages (`load`, `denoising`, `steps`, ...), the
    runtime's `run` (the engine's wall time) and `store`, and `total`; None before it ended (docs/gpu.md)."""

    def output_expired(self, now: datetime) -> bool:
        """True once the output is gone or past its expiry, whether or not the sweep has run yet, so every
        API answers alike from the moment of expiry."""
        return self.output is not None and (
            self.outputs_expired or (self.expires_at is not None and self.expires_at <= now)
        )

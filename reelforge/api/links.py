"""Absolute, signed links to a task's files, as every dialect hands them out."""

from __future__ import annotations

import time
from dataclasses import dataclass

from fastapi import Request

from reelforge.domain.task import Task
from reelforge.storage.base import Storage


@dataclass(frozen=True)
class Links:
    storage: Storage
    base_url: str
    ttl_seconds: int
    now: float | None = None
    """Fixed signing time (webhook bodies are rendered from the event time, so retries are identical)."""

    def expires_at(self) -> float:
        """When links made now stop working (epoch seconds)."""
        return (self.now if self.now is not None else time.time()) + self.ttl_seconds

    def url(self, path: str) -> str:
        return f"{self.base_url.rstrip('/')}{path}"

    def video_url(self, task: Task) -> str | None:
        if task.output is None:
            return None
        return self.storage.signed_url(self.base_url, task.output.video_key, self.ttl_seconds, now=self.now)

    def thumbnail_url(self, task: Task) -> str | None:
        if task.output is None:
            return None
        return self.storage.signed_url(self.base_url, task.output.thumbnail_key, self.ttl_seconds, now=self.now)


def base_url_of(request: Request) -> str:
    configured = request.app.state.services.settings.public_url
    return configured or str(request.base_url)


def links_for(request: Request) -> Links:
    services = request.app.state.services
    return Links(services.storage, base_url_of(request), services.settings.download_url_ttl)

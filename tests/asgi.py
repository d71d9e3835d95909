"""The app in-process over ASGI, for the many contract cases (validation, error shapes, pagination,
idempotency) that need no worker: tasks stay queued, and a test reads the same services the app uses.

End-to-end behaviour (real MP4s, webhooks, workers) stays in each dialect's module against `reelforge serve`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from reelforge.config import Settings
from reelforge.domain.task import Task
from reelforge.server import create_app
from reelforge.services import Services, build_services


@dataclass
class QueueOnly:
    """An executor that runs nothing: what it was asked to dispatch is recorded for assertions."""

    dispatched: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def dispatch(self, task: Task) -> None:
        self.dispatched.append(task.id)

    def cancel(self, task_id: str) -> None:
        self.cancelled.append(task_id)


@dataclass
class InProcessApp:
    client: TestClient
    services: Services
    executor: QueueOnly
    data_dir: Path

    def new_key(self, credits: int = 100, name: str = "test") -> str:
        """A fresh API key's secret, made in-process (no CLI subprocess)."""
        return self.services.keys.create(name, credits).secret

    def key_id(self, secret: str) -> str:
        return self.services.keys.authenticate(secret).id

    def balance(self, secret: str) -> int:
        return self.services.keys.balance(self.key_id(secret))

    def uploads(self) -> list[Path]:
        """Every file in the upload store (local storage), for the 'a refused create leaves nothing' checks."""
        root = self.data_dir / "artifacts" / "uploads"
        return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def in_process_app(data_dir: Path, **settings: object) -> Iterator[InProcessApp]:
    values = {
        "data_dir": data_dir,
        "allow_private_urls": True,
        "query_rate_limit": "100000/minute",
        "key_query_rate_limit": "100000/minute",
        **settings,
    }
    services = build_services(Settings(**values))  # type: ignore[arg-type]
    executor = QueueOnly()
    app = create_app(services, executor, run_dispatcher=False)
    try:
        with TestClient(app) as client:
            yield InProcessApp(client, services, executor, data_dir)
    finally:
        services.close()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[InProcessApp]:
    """The app in-process, on SQLite in a fresh data dir, with no workers."""
    yield from in_process_app(tmp_path / "data")


@pytest.fixture
def short_engine(tmp_path: Path) -> Iterator[InProcessApp]:
    """The app in-process with i2v on a draft engine that renders at most 3 s while the model allows any
    duration: an engine's own refusal, after the surface's checks passed."""
    models = tmp_path / "models.toml"
    models.write_text(
        '[models.i2v]\nengine = "draft"\nkind = "image_to_video"\ncredits_per_second = 1\n\n'
        "[models.i2v.settings]\nmax_duration = 3\n"
    )
    yield from in_process_app(tmp_path / "data", models_file=models)

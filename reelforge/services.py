"""Wiring: one `Services` object holding the database, storage and the services built on them.

The API server, the workers and the CLI all start here, so they agree on where things live.
"""

from __future__ import annotations

from dataclasses import dataclass

from reelforge.accounts.keys import KeyService
from reelforge.accounts.tokens import TokenService
from reelforge.config import Settings
from reelforge.engines.base import Engine
from reelforge.storage.base import Storage
from reelforge.storage.factory import build_storage
from reelforge.store.db import Database
from reelforge.tasks.lifecycle import TaskLifecycle
from reelforge.tasks.service import TaskService
from reelforge.tasks.work import WorkQueue


@dataclass
class Services:
    settings: Settings
    db: Database
    storage: Storage
    keys: KeyService
    tasks: TaskService
    """What the API surfaces and MCP call."""
    work: WorkQueue
    """What workers call."""
    lifecycle: TaskLifecycle
    """The one writer of status and refunds (the expiry sweep marks tasks through it too)."""
    tokens: TokenService

    def close(self) -> None:
        self.db.dispose()


def build_services(
    settings: Settings | None = None, *, migrate: bool = True, engines: dict[str, Engine] | None = None
) -> Services:
    """Every service for `settings`; `engines` (model -> engine, from the start-up check) validate submits."""
    settings = settings or Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(
        settings.resolved_database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_recycle=settings.database_pool_recycle,
    )
    if migrate:
        db.migrate()
    storage = build_storage(settings, db)
    lifecycle = TaskLifecycle(db)
    return Services(
        settings=settings,
        db=db,
        storage=storage,
        keys=KeyService(db),
        tasks=TaskService(db, settings, lifecycle=lifecycle, engines=engines),
        work=WorkQueue(db, settings, lifecycle),
        lifecycle=lifecycle,
        tokens=TokenService(db, settings.max_tokens_per_key),
    )

"""The one create path: every dialect and MCP create tasks here, and only here.

The order is fixed so that no surface can get it wrong: open an upload session, let the surface's
`build` turn what the caller sent into a `Submission` (storing inputs through the session), submit it
(idempotency, price, debit, the task row and its job, in one transaction), delete every stored file the new
task does not reference, and only after the commit hand the task to the executor. A refused create leaves
no upload behind and takes no credit; a repeat with the same `Idempotency-Key` returns the first task.

`create` blocks (storage and database): call it from a sync handler, which FastAPI runs on its thread pool,
or through `create_async`, which moves it off the event loop (docs/design.md, "Database calls").
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable

from reelforge.config import Settings
from reelforge.domain.task import Task
from reelforge.edge.idempotency import NO_KEY, Idempotency
from reelforge.edge.uploads import UploadSession
from reelforge.runtime.executor import Executor
from reelforge.storage.base import Storage
from reelforge.tasks.service import Submission, TaskService

Build = Callable[[UploadSession], Submission]
"""Turns one caller's request into a `Submission`, storing its uploads through the session."""


class CreatePath:
    def __init__(self, tasks: TaskService, storage: Storage, settings: Settings, executor: Executor) -> None:
        self.tasks = tasks
        self.storage = storage
        self.settings = settings
        self.executor = executor

    def create(self, key_id: str, build: Build, idempotency: Idempotency = NO_KEY) -> Task:
        """Build, submit and dispatch one task for `key_id`; on any failure nothing is left behind."""
        session = UploadSession(self.storage, self.settings)
        task: Task | None = None
        try:
            submission = build(session)
            if idempotency.key is not None:
                submission = dataclasses.replace(
                    submission, idempotency_key=idempotency.key, request_hash=idempotency.digest
                )
            task = self.tasks.submit(key_id, submission)
        finally:
            session.finish(task)
        self.executor.dispatch(task)  # after the commit: a worker must find the job row it is told about
        return task

    async def create_async(self, key_id: str, build: Build, idempotency: Idempotency = NO_KEY) -> Task:
        """`create` off the event loop, for async callers (MCP tools, handlers that read a stream first)."""
        return await asyncio.to_thread(self.create, key_id, build, idempotency)

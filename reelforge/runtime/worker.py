"""The worker loop: claim a job, run its engine under a heartbeat, store the result, report the outcome.

Execution is at least once: a worker that dies mid-task loses its lease and another worker runs the task
again. Credits are never touched here beyond what `TaskService` does, so a re-run never charges twice.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.domain.task import Task, TaskOutput, TaskStatus
from reelforge.engines.base import Artifact, Engine, TaskCancelled, create_engine
from reelforge.media.spritesheet import write_spritesheet
from reelforge.runtime.context import WorkerContext
from reelforge.runtime.scratch import sweep_scratch
from reelforge.runtime.wakeup import ENV_FD, WakingEvent, listen_pipe, listen_postgres
from reelforge.services import Services

log = logging.getLogger(__name__)


class Worker:
    def __init__(
        self,
        services: Services,
        *,
        name: str | None = None,
        models: list[str] | None = None,
        parent_pid: int | None = None,
    ) -> None:
        self.services = services
        self.settings = services.settings
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.models = models or None
        self.parent_pid = parent_pid
        self.wake = threading.Event()
        """Set when work may be waiting (a wake-up, `runtime/wakeup.py`) or the worker should stop."""
        self.stop_event: threading.Event = WakingEvent(self.wake)
        self._engines: dict[str, Engine] = {}
        self._last_reap = 0.0

    # ----------------------------------------------------------------- loop

    def listen(self) -> None:
        """Start the wake-up listeners this worker has: its server's pipe, PostgreSQL's NOTIFY."""
        fd = os.environ.get(ENV_FD)
        if fd and fd.isdigit():
            os.environ.pop(ENV_FD)  # the pipe is this process's, not its children's
            listen_pipe(int(fd), self.wake)
        if not self.services.db.is_sqlite:
            listen_postgres(self.services.db.url, self.wake, self.stop_event.is_set)

    def run_forever(self) -> None:
        log.info("worker %s started (models: %s)", self.name, ", ".join(self.models or ["all"]))
        self.listen()
        backoff = self.settings.poll_interval
        while not self.stop_event.is_set():
            if self.parent_pid is not None and os.getppid() != self.parent_pid:
                log.warning("worker %s: parent process exited; stopping", self.name)
                break
            try:
                ran = self.run_once()
                backoff = self.settings.poll_interval
            except Exception:  # e.g. the database is briefly unreachable: keep the worker alive
                log.exception("worker %s: looking for work failed; retrying in %.1fs", self.name, backoff)
                ran = False
                backoff = min(backoff * 2 + 0.5, 30.0)
            if not ran:
                # A wake-up ends the wait at once; the poll interval is the fallback for a lost one.
                self.wake.wait(backoff)
                self.wake.clear()
        log.info("worker %s stopped", self.name)

    def run_once(self) -> bool:
        """Reap expired leases now and then, then run one task if there is one; True if one ran."""
        now = time.monotonic()
        if now - self._last_reap >= max(1.0, self.settings.lease_seconds / 3):
            self._last_reap = now
            self.services.work.reap_expired_leases()
            self.sweep_scratch()
        task = self.services.work.claim(self.name, queues=self.models)
        if task is None:
            return False
        self.execute(task)
        return True

    def sweep_scratch(self) -> int:
        """Remove scratch folders of attempts that died without cleaning up (at the first look for work, then
        with every reap)."""
        from reelforge.tasks.jobs import live_leases

        with self.services.db.read() as conn:
            live = live_leases(conn)
        return sweep_scratch(self.settings.work_dir, live, min_age=max(self.settings.lease_seconds, 5.0))

    def start_engines(self) -> list[str]:
        """Before the first claim: each served engine checks this machine and starts what it does at a
        worker's start (a diffusion model that preloads begins loading); one line per problem."""
        from reelforge.runtime.loader import check_hosts

        names = self.models or self.services.tasks.catalog.names
        return check_hosts({name: self.engine_for(name) for name in names}, start=True)

    # ------------------------------------------------------------- one task

    def engine_for(self, model: str) -> Engine:
        engine = self._engines.get(model)
        if engine is None:
            spec = self.services.tasks.model(model)
            engine = self._engines[model] = create_engine(spec.engine, spec.settings)
        return engine

    def execute(self, task: Task) -> None:
        service = self.services.work
        workdir = self.settings.work_dir / task.id / f"attempt-{task.attempts}"
        try:
            workdir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            # Not the task's fault and no other worker on this host would do better: fail it now with the
            # true cause (left RUNNING it was re-leased until the attempt cap and ended as WORKER_LOST).
            log.error("task %s: cannot create its work directory %s: %s", task.id, workdir, exc)
            service.fail(
                task.id,
                ErrorCode.WORK_DIR_UNWRITABLE,
                "the worker cannot write its work directory (`work/` in the server's data directory); "
                "the operator must make it a writable directory",
                owner=self.name,
            )
            return
        lost = threading.Event()
        stop = _AnyEvent(self.stop_event, lost)
        done = threading.Event()
        reporting = threading.Event()  # set just before the outcome is recorded, which ends the lease
        heartbeat = threading.Thread(target=self._heartbeat, args=(task.id, lost, done, reporting), daemon=True)
        heartbeat.start()
        ctx = WorkerContext(task.id, workdir, service, self.services.storage, self.settings, stop)
        log.info("task %s (%s) started, attempt %d", task.id, task.model, task.attempts)
        try:
            started = time.perf_counter()
            artifact = self.engine_for(task.model).run(task.request, ctx)
            stored = time.perf_counter()
            output = self._store(task, artifact)
            reporting.set()
            ended = service.complete(task.id, output, owner=self.name, timings=_timings(ctx, started, stored))
            if ended.status != TaskStatus.SUCCEEDED:  # cancelled or deleted meanwhile: keep nothing
                self.services.storage.delete_prefix(f"tasks/{task.id}")
            log.info("task %s ended %s", task.id, ended.status.value)
        except TaskCancelled:
            reporting.set()
            if ctx.cancel_was_requested:
                service.mark_cancelled(task.id, owner=self.name)
                log.info("task %s cancelled", task.id)
            elif not lost.is_set():
                service.release(task.id, self.name)
                log.info("task %s returned to the queue (worker stopping)", task.id)
        except ReelforgeError as exc:
            reporting.set()
            log.info("task %s failed: %s %s", task.id, exc.code, exc.message)
            service.fail(task.id, exc.code, exc.message, owner=self.name)
        except Exception as exc:
            reporting.set()
            # The details (paths, library internals) go to the log, not to the caller.
            log.error("task %s crashed: %s", task.id, traceback.format_exc())
            service.fail(
                task.id,
                ErrorCode.ENGINE_ERROR,
                f"the {task.model} engine failed ({type(exc).__name__}); the server log has details",
                owner=self.name,
            )
        finally:
            done.set()
            heartbeat.join()
            shutil.rmtree(workdir, ignore_errors=True)
            with contextlib.suppress(OSError):
                workdir.parent.rmdir()  # only if no other attempt of this task is using it

    def _heartbeat(
        self, task_id: str, lost: threading.Event, done: threading.Event, reporting: threading.Event
    ) -> None:
        while not done.wait(self.settings.heartbeat_seconds):
            try:
                ours = self.services.work.heartbeat(task_id, self.name)
            except Exception:  # a flaky database must not kill the task; the lease has slack
                log.exception("heartbeat for task %s failed", task_id)
                continue
            if not ours:
                if reporting.is_set():  # the outcome was just recorded and ended the lease: not a loss
                    return
                log.warning("task %s: lease lost to another worker; abandoning this attempt", task_id)
                lost.set()
                return

    def _store(self, task: Task, artifact: Artifact) -> TaskOutput:
        """Upload the video and thumbnail (to the local store or the shared bucket) before the task is
        marked done, so a client never sees a link to a file that is not there yet."""
        storage = self.services.storage
        prefix = f"tasks/{task.id}"
        try:
            video = Path(artifact.video_path)  # video.mp4, or .webm / .gif when the compositor was asked for one
            video_key = storage.put_file(f"{prefix}/video{video.suffix or '.mp4'}", video)
            thumb_key = storage.put_file(f"{prefix}/thumbnail.jpg", Path(artifact.thumbnail_path))
            poster = artifact.poster_path
            poster_key = None if poster is None else storage.put_file(f"{prefix}/poster.jpg", Path(poster))
            sheet = _spritesheet(task.id, video)
            sheet_key = None if sheet is None else storage.put_file(f"{prefix}/spritesheet.jpg", sheet)
        except Exception:
            log.error("task %s: storing the result failed: %s", task.id, traceback.format_exc())
            with contextlib.suppress(Exception):
                storage.delete_prefix(prefix)  # no half-stored output left behind
            raise ReelforgeError(
                ErrorCode.INTERNAL_ERROR, "storing the finished video failed; the server log has details"
            ) from None
        return TaskOutput(
            video_key=video_key,
            thumbnail_key=thumb_key,
            duration=artifact.duration,
            width=artifact.width,
            height=artifact.height,
            fps=artifact.fps,
            poster_key=poster_key,
            spritesheet_key=sheet_key,
        )


def _timings(ctx: WorkerContext, started: float, stored: float) -> dict[str, Any]:
    """The engine's stage timings (if it reported any) with the runtime's: `run` (the engine's wall time),
    `store` (uploading the files) and `total`, in seconds."""
    now = time.perf_counter()
    timings: dict[str, Any] = {k: v for k, v in ctx.timings.items() if k != "total"}
    timings.update(run=round(stored - started, 3), store=round(now - stored, 3), total=round(now - started, 3))
    return timings


def _spritesheet(task_id: str, video: Path) -> Path | None:
    """The video's spritesheet (`media/spritesheet.py`), next to it; None (logged) if it cannot be made:
    a preview must not fail a finished video."""
    try:
        return write_spritesheet(video, video.with_name("spritesheet.jpg"))
    except Exception:
        log.warning("task %s: no spritesheet: %s", task_id, traceback.format_exc())
        return None


class _AnyEvent:
    """Looks like a `threading.Event` that is set when any of its parts is."""

    def __init__(self, *events: threading.Event) -> None:
        self._events = events

    def is_set(self) -> bool:
        return any(event.is_set() for event in self._events)

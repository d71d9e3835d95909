"""Wake-ups: an idle worker hears of new work when it is queued, instead of at its next poll.

Two channels, both only hints (the job table stays the truth, and the worker's poll stays as the fallback,
so a lost wake-up delays a task by one poll interval, never loses it):

- **A pipe from the server that started the worker** (the embedded executor, any database): the server
  writes a byte to each of its workers' pipes when it dispatches a task; the worker inherits the read end
  (`REELFORGE_WAKE_FD`). This is the local channel on SQLite, where nothing else connects the processes.
- **PostgreSQL `LISTEN`/`NOTIFY`**: `tasks/jobs.py` sends `NOTIFY` in the transaction that queues a job,
  so PostgreSQL delivers it at commit to every listening worker on any host (and never for a rolled-back
  submit); each worker listens on its own autocommit connection.

Each channel is read by a daemon thread that sets one `threading.Event`, the one the worker loop waits on
between polls; stopping the worker sets it too.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable

from reelforge.tasks.jobs import NOTIFY_CHANNEL

log = logging.getLogger(__name__)

ENV_FD = "REELFORGE_WAKE_FD"
"""The environment variable that names the inherited read end of a worker's wake-up pipe."""


class WakingEvent(threading.Event):
    """A stop event whose `set` also wakes the worker waiting on `wake`."""

    def __init__(self, wake: threading.Event) -> None:
        super().__init__()
        self._wake = wake

    def set(self) -> None:
        super().set()
        self._wake.set()


def listen_pipe(fd: int, wake: threading.Event) -> threading.Thread:
    """Set `wake` for every write to `fd`; the thread ends when the writer (the server) is gone."""

    def run() -> None:
        with contextlib.suppress(OSError):
            while os.read(fd, 4096):
                wake.set()
        with contextlib.suppress(OSError):
            os.close(fd)

    thread = threading.Thread(target=run, name="wake-pipe", daemon=True)
    thread.start()
    return thread


def listen_postgres(url: str, wake: threading.Event, stopped: Callable[[], bool]) -> threading.Thread:
    """Set `wake` for every `NOTIFY` on the jobs channel of the PostgreSQL database at `url`.

    A dropped connection is opened again (after a pause that grows to 30 s); between, the poll covers.
    """
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)

    def run() -> None:
        pause = 0.5
        while not stopped():
            try:
                with psycopg.connect(conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    pause = 0.5
                    wake.set()  # anything queued while we were not listening
                    while not stopped():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            wake.set()
            except Exception as exc:  # the database restarted or is unreachable: the poll covers meanwhile
                log.warning("wake-ups from PostgreSQL paused (%s); retrying in %.1f s", exc, pause)
                threading.Event().wait(pause)
                pause = min(pause * 2, 30.0)

    thread = threading.Thread(target=run, name="wake-listen", daemon=True)
    thread.start()
    return thread


class WakePipes:
    """The server side of the pipes: one per worker process, written (never blocking) on each dispatch."""

    def __init__(self) -> None:
        self._writers: dict[int, int] = {}  # worker index -> write end
        self._lock = threading.Lock()

    def open(self, index: int) -> int:
        """A new pipe for worker `index` (replacing its old one); returns the read end to pass on."""
        read_end, write_end = os.pipe()
        os.set_blocking(write_end, False)
        with self._lock:
            old = self._writers.pop(index, None)
            self._writers[index] = write_end
        if old is not None:
            with contextlib.suppress(OSError):
                os.close(old)
        return read_end

    def wake_all(self) -> None:
        with self._lock:
            writers = list(self._writers.values())
        for fd in writers:
            with contextlib.suppress(OSError):  # full (a wake-up is already pending) or the worker is gone
                os.write(fd, b"\x01")

    def close(self) -> None:
        with self._lock:
            writers, self._writers = list(self._writers.values()), {}
        for fd in writers:
            with contextlib.suppress(OSError):
                os.close(fd)

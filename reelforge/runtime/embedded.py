"""The embedded executor: worker processes started by `reelforge serve`, woken when a task is dispatched.

Each worker inherits the read end of a pipe; `dispatch` writes a byte to every worker's pipe, so an idle
worker claims at once (`runtime/wakeup.py`). The job table stays the truth and the workers still poll it
(`poll_interval`), so a wake-up lost (a full pipe, a restart) costs one poll interval, never a task.

Workers are separate processes (not threads) so a CPU-heavy engine never stalls the API's event loop and
a crash in native code takes down one worker, not the server. A watchdog restarts a worker that died;
the task it held comes back when its lease expires.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from typing import IO

from reelforge.config import Settings
from reelforge.domain.task import Task
from reelforge.runtime.wakeup import ENV_FD, WakePipes

log = logging.getLogger(__name__)


class EmbeddedExecutor:
    def __init__(
        self,
        settings: Settings,
        workers: int = 1,
        *,
        restart: bool = True,
        log_level: str = "INFO",
        stdout: IO[str] | None = None,
    ) -> None:
        self.settings = settings
        self.stdout = stdout
        """Where workers' stdout goes (inherited by default); `reelforge mcp` sends it to stderr, since its
        own stdout is the protocol channel."""
        self.log_level = log_level
        self.count = workers
        self.restart = restart
        self._procs: list[subprocess.Popen] = []
        self._stopping = threading.Event()
        self._watchdog: threading.Thread | None = None
        self._pipes = WakePipes()

    def _spawn(self, index: int) -> subprocess.Popen:
        env = dict(os.environ)
        env["REELFORGE_DATA_DIR"] = str(self.settings.data_dir)
        env["REELFORGE_DATABASE_URL"] = self.settings.resolved_database_url
        if self.settings.public_url:
            env["REELFORGE_PUBLIC_URL"] = self.settings.public_url
        if self.settings.models_file:
            env["REELFORGE_MODELS_FILE"] = str(self.settings.models_file)
        command = [
            sys.executable,
            "-m",
            "reelforge",
            "worker",
            "--exit-with-parent",
            "--name",
            f"embedded-{os.getpid()}-{index}",
            "--log-level",
            self.log_level,
        ]
        wake_fd = self._pipes.open(index)
        env[ENV_FD] = str(wake_fd)
        try:
            # A worker never reads stdin; under `reelforge mcp` stdin is the protocol channel, not theirs.
            return subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=self.stdout, pass_fds=(wake_fd,))
        finally:
            os.close(wake_fd)  # the worker holds its own copy

    def start(self) -> None:
        self._procs = [self._spawn(i) for i in range(self.count)]
        if self.restart and self.count:
            self._watchdog = threading.Thread(target=self._watch, name="worker-watchdog", daemon=True)
            self._watchdog.start()

    def _watch(self) -> None:
        while not self._stopping.wait(1.0):
            for index, proc in enumerate(self._procs):
                if proc.poll() is not None and not self._stopping.is_set():
                    log.warning("worker %d exited with %s; starting a new one", index, proc.returncode)
                    self._procs[index] = self._spawn(index)

    @property
    def pids(self) -> list[int]:
        return [proc.pid for proc in self._procs]

    def stop(self, timeout: float = 15.0) -> None:
        self._stopping.set()
        for proc in self._procs:
            if proc.poll() is None:
                proc.terminate()  # SIGTERM: the worker gives its running task back to the queue
        for proc in self._procs:
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._watchdog:
            self._watchdog.join(timeout=2)
        self._pipes.close()

    def dispatch(self, task: Task) -> None:
        """Wake the idle workers (a byte down each pipe, never blocking); the fairest claim wins."""
        self._pipes.wake_all()

    def cancel(self, task_id: str) -> None:
        """Nothing to send: the running engine sees the cancel flag through `ctx.cancelled()`."""

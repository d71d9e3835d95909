"""Wake-ups (`runtime/wakeup.py`): an idle worker starts a new task at once, not at its next poll.

Each server here polls every 60 s, so a task started within seconds can only have been started by a
wake-up: the embedded server's pipe (any database), and PostgreSQL's NOTIFY for a standalone worker.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from reelforge.runtime.wakeup import WakePipes, WakingEvent, listen_pipe
from tests.conftest import server_env
from tests.helpers import eventually

SLOW_POLL = {"REELFORGE_POLL_INTERVAL": "60"}
T2V = {"prompt": "a wake-up call", "aspectRatio": "16:9", "duration": "5"}


def _started_within(url: str, key: str, seconds: float) -> None:
    task_id = httpx.post(f"{url}/api/v1/generate/t2v", headers={"key": key}, json=T2V).json()["taskId"]

    def started() -> bool:
        status = httpx.get(f"{url}/api/v1/tasks/{task_id}/status", headers={"key": key}).json()["status"]
        return status != "SUBMITTED"

    eventually(started, timeout=seconds, what="the idle worker started the task")


def test_the_embedded_server_wakes_its_idle_worker(start_server, database_url: str) -> None:
    server = start_server(workers=1, env=SLOW_POLL, database_url=database_url)
    time.sleep(2.0)  # the worker's first poll found nothing: it now waits up to 60 s
    for _ in range(2):  # and again once it is idle after the first task
        _started_within(server.url, server.key, 15)


def test_postgresql_notify_wakes_a_standalone_worker(start_server, database_url: str, tmp_path: Path) -> None:
    if database_url.startswith("sqlite"):
        return  # the standalone worker's channel is PostgreSQL's; on SQLite it polls (the embedded pipe is above)
    server = start_server(workers=0, env=SLOW_POLL, database_url=database_url)
    env = server_env(server.data_dir, {**SLOW_POLL, "REELFORGE_DATABASE_URL": database_url})
    worker = subprocess.Popen(
        [sys.executable, "-m", "reelforge", "worker", "--name", "standalone"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(4.0)  # started, listening, its first poll done
        _started_within(server.url, server.key, 15)
    finally:
        worker.terminate()
        worker.wait(30)


def test_pipes_wake_each_listener_and_never_block_the_server() -> None:
    pipes = WakePipes()
    woken = [threading.Event(), threading.Event()]
    threads = [listen_pipe(pipes.open(index), event) for index, event in enumerate(woken)]
    for _ in range(100_000):  # far more than a pipe holds: a full pipe is skipped, not waited on
        pipes.wake_all()
    assert all(event.wait(5) for event in woken)
    pipes.close()  # the listeners see the end of their pipe and stop
    for thread in threads:
        thread.join(5)
        assert not thread.is_alive()


def test_stopping_wakes_the_waiting_worker() -> None:
    wake = threading.Event()
    stop = WakingEvent(wake)
    threading.Timer(0.1, stop.set).start()
    assert wake.wait(5) and stop.is_set()
    assert os.environ.get("REELFORGE_WAKE_FD") is None

"""A worker process killed with SIGKILL mid-task: the task still completes, on another worker, charged once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reelforge.config import Settings
from reelforge.media.probe import probe
from reelforge.services import build_services
from tests.conftest import server_env
from tests.helpers import balance, create, details, download, new_key, wait_for

FAST_LEASES = {"REELFORGE_LEASE_SECONDS": "2", "REELFORGE_HEARTBEAT_SECONDS": "0.3"}


def start_worker(env: dict[str, str], name: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "reelforge", "worker", "--name", name],
        env=env,
        stdout=open(log, "ab"),
        stderr=subprocess.STDOUT,
    )


def test_sigkilled_worker_task_completes_elsewhere_charged_once(
    start_server, database_url: str, tmp_path: Path
) -> None:
    server = start_server(workers=0, env=FAST_LEASES, database_url=database_url)
    env = server_env(server.data_dir, FAST_LEASES, database_url)
    key = new_key(server, credits=500)
    response = create(
        server,
        "t2v_v3",
        {"prompt": "a long pan over mountains", "aspectRatio": "16:9", "duration": "20"},
        key=key["key"],
    )
    assert response.status_code == 200, response.text
    task_id = response.json()["taskId"]

    doomed = start_worker(env, "doomed", tmp_path / "doomed.log")
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            body = details(server, task_id, key["key"]).json()
            if body["status"] == "PROGRESS" and body["progress"] >= 5:
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"task never made progress: {body}\n{(tmp_path / 'doomed.log').read_text()[-3000:]}")
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(10)
    finally:
        if doomed.poll() is None:
            doomed.kill()
    assert details(server, task_id, key["key"]).json()["status"] == "PROGRESS"  # still owned by the dead worker

    survivor = start_worker(env, "survivor", tmp_path / "survivor.log")
    try:
        done = wait_for(server, task_id, {"COMPLETED", "FAILED"}, key=key["key"], timeout=240)
    finally:
        survivor.send_signal(signal.SIGTERM)
        survivor.wait(30)
    assert done["status"] == "COMPLETED", done
    info = probe(download(done["output"]["videoUrl"], tmp_path / "out.mp4"))
    assert info.duration == pytest.approx(20.0, abs=0.05) and (info.width, info.height) == (1280, 720)

    total, ledger = balance(server, key["id"])
    assert [(e["reason"], e["amount"]) for e in ledger if e["taskId"] == task_id] == [("debit", -200)]
    assert total == 300 == sum(e["amount"] for e in ledger)
    services = build_services(Settings(data_dir=server.data_dir, database_url=database_url), migrate=False)
    assert services.tasks.get(task_id).attempts == 2
    services.close()
    assert "survivor" in (tmp_path / "survivor.log").read_text()


def test_serve_restarts_a_killed_embedded_worker(start_server) -> None:
    server = start_server(workers=1, env=FAST_LEASES)
    body = {"prompt": "rain on glass", "aspectRatio": "16:9", "duration": "8"}
    task_id = create(server, "t2v", body).json()["taskId"]
    deadline = time.monotonic() + 60
    while details(server, task_id).json()["progress"] < 5 and time.monotonic() < deadline:
        time.sleep(0.1)
    [worker_pid] = server.worker_pids()
    os.kill(worker_pid, signal.SIGKILL)
    done = wait_for(server, task_id, {"COMPLETED", "FAILED"}, timeout=180)
    assert done["status"] == "COMPLETED"
    assert server.worker_pids() != [worker_pid]
    assert balance(server, server.key_id)[0] == 500 - 8

"""The embedded runtime on a real database: leases, re-queue, attempt cap, cooperative cancel, failures."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from reelforge.config import Settings
from reelforge.domain.errors import ErrorCode
from reelforge.domain.request import GenerationRequest, ImageInput, Kind
from reelforge.domain.task import TaskStatus
from reelforge.media.probe import probe
from reelforge.runtime.worker import Worker
from reelforge.services import Services, build_services
from reelforge.store.tables import ledger
from reelforge.tasks.service import Submission


@pytest.fixture
def services(database_url: str, tmp_path: Path) -> Services:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        lease_seconds=1.0,
        heartbeat_seconds=0.2,
        max_attempts=2,
        poll_interval=0.05,
        allow_private_urls=True,
    )
    built = build_services(settings)
    yield built
    built.close()


def submit(
    services: Services,
    key_id: str,
    *,
    duration: float = 1,
    width: int = 160,
    height: int = 96,
    kind: Kind = Kind.TEXT_TO_VIDEO,
    images: list[ImageInput] | None = None,
) -> str:
    request = GenerationRequest(
        kind=kind,
        prompt="waves at dusk",
        width=width,
        height=height,
        fps=12,
        duration=duration,
        seed=3,
        images=images or [],
    )
    model = "t2v" if kind == Kind.TEXT_TO_VIDEO else "i2v"
    return services.tasks.submit(key_id, Submission(model, request, {}, "aivideomaker")).id


def ledger_reasons(services: Services, task_id: str) -> list[str]:
    with services.db.read() as conn:
        return sorted(r.reason for r in conn.execute(select(ledger).where(ledger.c.task_id == task_id)))


def test_worker_runs_a_task_to_a_stored_mp4(services: Services) -> None:
    key = services.keys.create(credits=10).key
    task_id = submit(services, key.id)
    assert Worker(services, name="w").run_once()
    task = services.tasks.get(task_id)
    assert task.status == TaskStatus.SUCCEEDED and task.progress == 100 and task.attempts == 1
    info = probe(services.storage.path(task.output.video_key))
    assert (info.width, info.height, info.codec) == (160, 96, "h264")
    assert info.frame_count == 12
    assert services.storage.path(task.output.thumbnail_key).read_bytes()[:2] == b"\xff\xd8"
    assert not (services.settings.work_dir / task_id).exists()  # scratch space cleaned


def test_expired_lease_is_requeued_and_finished_by_another_worker_charged_once(services: Services) -> None:
    key = services.keys.create(credits=10).key
    task_id = submit(services, key.id)
    assert services.work.claim("ghost").id == task_id  # a worker that dies right after claiming
    time.sleep(1.2)
    assert services.work.reap_expired_leases() == 1
    assert services.tasks.get(task_id).status == TaskStatus.QUEUED
    assert Worker(services, name="survivor").run_once()
    task = services.tasks.get(task_id)
    assert task.status == TaskStatus.SUCCEEDED and task.attempts == 2
    assert ledger_reasons(services, task_id) == ["debit"]
    assert services.tasks.balance(key.id) == 9


def test_attempt_cap_fails_with_refund(services: Services) -> None:
    key = services.keys.create(credits=10).key
    task_id = submit(services, key.id)
    for _ in range(2):  # max_attempts = 2
        assert services.work.claim("ghost") is not None
        time.sleep(1.2)
        services.work.reap_expired_leases()
    task = services.tasks.get(task_id)
    assert task.status == TaskStatus.FAILED and task.error_code == ErrorCode.WORKER_LOST
    assert ledger_reasons(services, task_id) == ["debit", "refund"]
    assert services.tasks.balance(key.id) == 10
    assert services.work.claim("anyone") is None


def start_long_task(services: Services, key_id: str) -> tuple[str, Worker, threading.Thread]:
    """A 60 s task running on a worker thread, returned once it has made some progress."""
    task_id = submit(services, key_id, duration=60, width=320, height=192)
    worker = Worker(services, name="w")
    thread = threading.Thread(target=worker.run_once)
    thread.start()
    deadline = time.monotonic() + 30
    while services.tasks.get(task_id).progress < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    return task_id, worker, thread


def test_running_task_is_cancelled_cooperatively_and_refunded(services: Services) -> None:
    key = services.keys.create(credits=100).key
    task_id, _worker, thread = start_long_task(services, key.id)
    assert services.tasks.get(task_id).status == TaskStatus.RUNNING
    services.tasks.cancel(task_id, key.id, allow_running=True)
    thread.join(30)
    assert not thread.is_alive()
    task = services.tasks.get(task_id)
    assert task.status == TaskStatus.CANCELLED and task.progress < 100
    assert services.tasks.balance(key.id) == 100
    assert ledger_reasons(services, task_id) == ["debit", "refund"]


def test_worker_shutdown_gives_the_running_task_back(services: Services) -> None:
    key = services.keys.create(credits=100).key
    task_id, worker, thread = start_long_task(services, key.id)
    worker.stop_event.set()
    thread.join(30)
    task = services.tasks.get(task_id)
    assert task.status == TaskStatus.QUEUED and task.progress == 0
    assert ledger_reasons(services, task_id) == ["debit"]


def test_an_input_that_cannot_be_fetched_fails_the_task_with_refund(services: Services) -> None:
    key = services.keys.create(credits=10).key
    task_id = submit(
        services, key.id, kind=Kind.IMAGE_TO_VIDEO, images=[ImageInput(source="http://127.0.0.1:9/missing.png")]
    )
    assert Worker(services, name="w").run_once()
    task = services.tasks.get(task_id)
    assert task.status == TaskStatus.FAILED and task.error_code == ErrorCode.INPUT_FETCH_FAILED
    assert "127.0.0.1:9" in task.error_message
    assert services.tasks.balance(key.id) == 10


def test_an_unwritable_work_directory_fails_the_task_at_once_with_one_refund(services: Services) -> None:
    """Root ignores chmod, so the work directory's path is a regular file: no scratch folder can be made. The
    task fails on its first attempt with WORK_DIR_UNWRITABLE (it stayed RUNNING, was re-leased and ended as
    WORKER_LOST after ~95 s), refunded once, and the message names no server path."""
    work_dir = services.settings.work_dir
    work_dir.parent.mkdir(parents=True, exist_ok=True)
    if work_dir.is_dir():
        work_dir.rmdir()
    work_dir.write_text("not a directory")
    key = services.keys.create(credits=10).key
    task_id = submit(services, key.id)
    assert Worker(services, name="w").run_once()
    task = services.tasks.get(task_id)
    assert task.status == TaskStatus.FAILED and task.attempts == 1
    assert task.error_code == ErrorCode.WORK_DIR_UNWRITABLE
    assert "work directory" in task.error_message and str(work_dir) not in task.error_message
    assert ledger_reasons(services, task_id) == ["debit", "refund"]
    assert services.tasks.balance(key.id) == 10
    assert services.work.claim("anyone") is None


def test_a_worker_sweeps_scratch_folders_of_attempts_killed_outright(services: Services) -> None:
    """A SIGKILLed attempt leaves work/<task>/attempt-<n> behind; a worker's first look for work removes every
    folder that is not the current attempt of a live lease, and keeps the live one and any fresh one."""
    import os

    work_dir = services.settings.work_dir
    key = services.keys.create(credits=10).key
    live_id = submit(services, key.id)
    leased = services.work.claim("other-worker")
    assert leased is not None and leased.id == live_id
    old = time.time() - 3600
    dead = work_dir / "ck0deadtask000000000000" / "attempt-1"
    earlier = work_dir / live_id / "attempt-0"
    current = work_dir / live_id / f"attempt-{leased.attempts}"
    fresh = work_dir / "ck0justclaimed0000000000" / "attempt-1"
    for folder in (dead, earlier, current, fresh):
        folder.mkdir(parents=True)
        (folder / "frame.png").write_bytes(b"x" * 1000)
    for folder in (dead, earlier, current):
        os.utime(folder, (old, old))
    Worker(services, name="w").run_once()
    assert not dead.parent.exists() and not earlier.exists()
    assert (current / "frame.png").exists() and (fresh / "frame.png").exists()

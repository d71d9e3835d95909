"""TaskService on a real database (SQLite, and PostgreSQL when configured): credits, states, refunds."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from reelforge.config import Settings
from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.domain.request import GenerationRequest, Kind
from reelforge.domain.task import TaskOutput, TaskStatus
from reelforge.services import Services, build_services
from reelforge.store.tables import jobs, ledger, tasks, webhook_outbox
from reelforge.tasks.service import Submission


@pytest.fixture
def services(database_url: str, tmp_path: Path) -> Services:
    built = build_services(Settings(data_dir=tmp_path / "data", database_url=database_url))
    yield built
    built.close()


def t2v(duration: int = 5, prompt: str = "a red fox in snow") -> Submission:
    request = GenerationRequest(
        kind=Kind.TEXT_TO_VIDEO, prompt=prompt, width=160, height=96, fps=12, duration=duration, seed=7
    )
    return Submission(model="t2v", request=request, input={"prompt": prompt}, dialect="aivideomaker")


def ledger_sum(services: Services, key_id: str) -> int:
    with services.db.read() as conn:
        return int(
            conn.execute(
                select(func.coalesce(func.sum(ledger.c.amount), 0)).where(ledger.c.key_id == key_id)
            ).scalar_one()
        )


def test_submit_debits_the_price_with_the_task(services: Services) -> None:
    key = services.keys.create(credits=20).key
    task = services.tasks.submit(key.id, t2v(duration=8))
    assert task.status == TaskStatus.QUEUED
    assert task.cost == 8  # t2v: duration x 1
    assert services.tasks.balance(key.id) == 12
    with services.db.read() as conn:
        job = conn.execute(select(jobs).where(jobs.c.task_id == task.id)).one()
    assert job.state == "queued"


def test_insufficient_credits_writes_nothing(services: Services) -> None:
    key = services.keys.create(credits=4).key
    with pytest.raises(ReelforgeError) as caught:
        services.tasks.submit(key.id, t2v(duration=5))
    assert caught.value.code == ErrorCode.INSUFFICIENT_CREDITS
    assert caught.value.http_status == 402
    with services.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(tasks)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(jobs)).scalar_one() == 0
    assert services.tasks.balance(key.id) == 4


def test_a_revoked_key_cannot_spend_but_its_queued_tasks_still_run(services: Services) -> None:
    key = services.keys.create(credits=20).key
    queued = services.tasks.submit(key.id, t2v(duration=5))
    services.keys.revoke(key.id)  # e.g. while a long-lived MCP session still holds the key
    with pytest.raises(ReelforgeError) as caught:
        services.tasks.submit(key.id, t2v(duration=5))
    assert caught.value.code == ErrorCode.AUTH_FAILED
    assert services.tasks.balance(key.id) == 15  # only the first debit
    claimed = services.work.claim("w1")
    assert claimed is not None and claimed.id == queued.id


def test_invalid_request_is_refused_before_any_credit(services: Services) -> None:
    key = services.keys.create(credits=50).key
    bad = GenerationRequest(kind=Kind.TEXT_TO_VIDEO, prompt="x", width=161, height=96, fps=12, duration=5)
    with pytest.raises(ReelforgeError) as caught:
        services.tasks.submit(key.id, Submission("t2v", bad, {}, "aivideomaker"))
    assert caught.value.code == ErrorCode.INVALID_PAYLOAD
    assert services.tasks.balance(key.id) == 50


def test_unknown_model_is_invalid_model(services: Services) -> None:
    key = services.keys.create(credits=50).key
    submission = t2v()
    with pytest.raises(ReelforgeError) as caught:
        services.tasks.submit(key.id, Submission("nope", submission.request, {}, "aivideomaker"))
    assert caught.value.code == ErrorCode.INVALID_MODEL


def test_failed_task_is_refunded_exactly_once(services: Services) -> None:
    key = services.keys.create(credits=10).key
    task = services.tasks.submit(key.id, t2v())
    assert services.work.claim("w1") is not None
    services.work.fail(task.id, ErrorCode.ENGINE_ERROR, "boom")
    services.work.fail(task.id, ErrorCode.ENGINE_ERROR, "boom again")
    services.work.mark_cancelled(task.id)
    with pytest.raises(ReelforgeError):
        services.tasks.cancel(task.id, key.id)
    assert services.tasks.get(task.id).status == TaskStatus.FAILED
    assert services.tasks.balance(key.id) == 10
    with services.db.read() as conn:
        reasons = [r.reason for r in conn.execute(select(ledger).where(ledger.c.task_id == task.id))]
    assert sorted(reasons) == ["debit", "refund"]


def test_cancel_queued_refunds_and_cancel_running_needs_consent(services: Services) -> None:
    key = services.keys.create(credits=20).key
    queued = services.tasks.submit(key.id, t2v())
    cancelled = services.tasks.cancel(queued.id, key.id)
    assert cancelled.status == TaskStatus.CANCELLED
    assert services.tasks.balance(key.id) == 20

    running = services.tasks.submit(key.id, t2v())
    assert services.work.claim("w1").id == running.id
    with pytest.raises(ReelforgeError) as caught:
        services.tasks.cancel(running.id, key.id)
    assert caught.value.code == ErrorCode.INVALID_STATE and caught.value.http_status == 409
    flagged = services.tasks.cancel(running.id, key.id, allow_running=True)
    assert flagged.status == TaskStatus.RUNNING and flagged.cancel_requested
    services.work.mark_cancelled(running.id)
    assert services.tasks.get(running.id).status == TaskStatus.CANCELLED
    assert services.tasks.balance(key.id) == 20


def test_another_keys_task_is_not_found(services: Services) -> None:
    alice = services.keys.create(credits=20).key
    bob = services.keys.create(credits=20).key
    task = services.tasks.submit(alice.id, t2v())
    with pytest.raises(ReelforgeError) as caught:
        services.tasks.get(task.id, bob.id)
    assert caught.value.code == ErrorCode.TASK_NOT_FOUND
    with pytest.raises(ReelforgeError):
        services.tasks.cancel(task.id, bob.id)
    assert services.tasks.recent(bob.id) == []


def test_complete_sets_output_and_progress_only_moves_forward(services: Services) -> None:
    key = services.keys.create(credits=20).key
    task = services.tasks.submit(key.id, t2v())
    services.work.claim("w1")
    services.work.progress(task.id, 40)
    services.work.progress(task.id, 30)
    assert services.tasks.get(task.id).progress == 40
    output = TaskOutput("tasks/x/video.mp4", "tasks/x/thumbnail.jpg", 5.0, 160, 96, 12.0)
    done = services.work.complete(task.id, output)
    assert done.status == TaskStatus.SUCCEEDED and done.progress == 100 and done.output == output
    assert done.completed_at is not None
    # a late second attempt finishing the same task changes nothing
    assert services.work.complete(task.id, output).status == TaskStatus.SUCCEEDED
    assert services.tasks.balance(key.id) == 15


def test_list_is_newest_first(services: Services) -> None:
    key = services.keys.create(credits=100).key
    ids = [services.tasks.submit(key.id, t2v()).id for _ in range(4)]
    assert [t.id for t in services.tasks.recent(key.id)] == ids[::-1]
    assert [t.id for t in services.tasks.recent(key.id, limit=2, offset=1)] == ids[::-1][1:3]


def test_webhook_events_are_written_with_each_status_change(services: Services) -> None:
    key = services.keys.create(credits=20).key
    submission = t2v()
    hooked = Submission(submission.model, submission.request, {}, "aivideomaker", webhook_url="https://example.com/h")
    task = services.tasks.submit(key.id, hooked)
    services.work.claim("w1")
    services.work.fail(task.id, ErrorCode.ENGINE_ERROR, "boom")
    with services.db.read() as conn:
        events = [r.event_type for r in conn.execute(select(webhook_outbox).order_by(webhook_outbox.c.created_at))]
    assert events == ["task.queued", "task.running", "task.failed"]


def test_concurrent_submits_never_overdraw(services: Services) -> None:
    """Eight threads race to spend 40 credits on 5-credit tasks: exactly 8 succeed, none overdraws."""
    key = services.keys.create(credits=40).key
    outcomes: list[str] = []
    lock = threading.Lock()

    def spend() -> None:
        for _ in range(3):
            try:
                services.tasks.submit(key.id, t2v())
                result = "ok"
            except ReelforgeError as exc:
                result = exc.code.value
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=spend) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("ok") == 8
    assert outcomes.count("INSUFFICIENT_CREDITS") == 16
    assert services.tasks.balance(key.id) == 0 == ledger_sum(services, key.id)


def test_ledger_sum_equals_balance_after_a_mixed_run(services: Services) -> None:
    key = services.keys.create(credits=100).key
    services.keys.grant(key.id, 25, "top-up")
    a, b, c, d = (services.tasks.submit(key.id, t2v(duration=5)) for _ in range(4))
    services.tasks.cancel(a.id, key.id)
    services.work.claim("w1", task_id=b.id)
    services.work.fail(b.id, ErrorCode.ENGINE_ERROR, "x")
    services.work.claim("w1", task_id=c.id)
    services.work.complete(c.id, TaskOutput("k", "t", 5, 160, 96, 12))
    # d stays queued and charged
    assert services.tasks.balance(key.id) == 125 - 5 - 5 == ledger_sum(services, key.id)
    assert services.keys.balance(key.id) == 115
    assert d.status == TaskStatus.QUEUED


def test_a_worker_that_lost_its_lease_cannot_end_the_new_attempt(services: Services) -> None:
    services.settings.lease_seconds = 0.2
    key = services.keys.create(credits=20).key
    task = services.tasks.submit(key.id, t2v())
    services.work.claim("slow")
    import time

    time.sleep(0.3)
    services.work.reap_expired_leases()
    services.settings.lease_seconds = 30
    assert services.work.claim("fresh").id == task.id
    # the first worker wakes up and reports: ignored, the second attempt goes on
    services.work.fail(task.id, ErrorCode.ENGINE_ERROR, "late failure", owner="slow")
    services.work.complete(task.id, TaskOutput("k", "t", 5, 160, 96, 12), owner="slow")
    services.work.mark_cancelled(task.id, owner="slow")
    assert services.tasks.get(task.id).status == TaskStatus.RUNNING
    assert services.work.heartbeat(task.id, "slow") is False
    assert services.work.heartbeat(task.id, "fresh") is True
    done = services.work.complete(task.id, TaskOutput("k", "t", 5, 160, 96, 12), owner="fresh")
    assert done.status == TaskStatus.SUCCEEDED and done.attempts == 2


def test_a_released_task_does_not_use_up_an_attempt(services: Services) -> None:
    key = services.keys.create(credits=20).key
    task = services.tasks.submit(key.id, t2v())
    for _ in range(services.settings.max_attempts + 2):  # restarts of a worker are not failures
        assert services.work.claim("w").id == task.id
        services.work.release(task.id, "w")
    queued = services.tasks.get(task.id)
    assert queued.status == TaskStatus.QUEUED and queued.attempts == 0
    assert services.work.claim("w").attempts == 1

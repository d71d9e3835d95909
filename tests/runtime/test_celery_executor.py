"""The `celery` executor against real services: `reelforge serve` and `reelforge worker --executor celery`
processes, a real broker (Redis and RabbitMQ), and PostgreSQL when REELFORGE_TEST_DATABASE_URL is set
(SQLite otherwise). Each test has its own queue prefix and deletes its queues afterwards."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from reelforge.config import Settings
from reelforge.media.probe import probe
from reelforge.runtime.celery_app import queues_for
from reelforge.services import build_services
from reelforge.store.tables import ledger, tasks
from tests.conftest import PG_URL_ENV, ServerProcess, _fresh_postgres_database, server_env
from tests.helpers import create, details, download, new_key, wait_for

BROKERS = {
    "redis": "redis://127.0.0.1:6379/13",
    "amqp": "amqp://guest:guest@127.0.0.1:5672//",
}

# Tiny models (64x64, 8 fps, 1 s) so hundreds of tasks stay cheap; `slow` runs long enough to be killed.
MODELS_TOML = """
[models.tiny-a]
engine = "draft"
kind = "text_to_video"
credits_per_second = 1
durations = [1]
aspect_ratios = ["1:1"]
height = 64
fps = 8

[models.tiny-b]
engine = "draft"
kind = "text_to_video"
credits_per_second = 1
durations = [1]
aspect_ratios = ["1:1"]
height = 64
fps = 8

[models.slow]
engine = "draft"
kind = "text_to_video"
credits_per_second = 1
durations = [20]
aspect_ratios = ["16:9"]
height = 360
fps = 24
"""

TINY = {"prompt": "a lantern", "aspectRatio": "1:1", "duration": "1"}
FAST_LEASES = {"REELFORGE_LEASE_SECONDS": "2", "REELFORGE_HEARTBEAT_SECONDS": "0.3"}


def _reachable(url: str) -> bool:
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
        return True
    except Exception:
        return False


class Fleet:
    """One deployment under test: its settings as environment, the server(s) and the Celery workers."""

    def __init__(self, tmp_path: Path, broker: str, database_url: str, start_server: Callable) -> None:
        self.tmp_path = tmp_path
        self.broker = broker
        self.database_url = database_url
        self._start_server = start_server
        self.prefix = f"rf-test-{uuid.uuid4().hex[:10]}"
        models_file = tmp_path / "models.toml"
        models_file.write_text(MODELS_TOML)
        self.env = {
            "REELFORGE_EXECUTOR": "celery",
            "REELFORGE_BROKER_URL": BROKERS[broker],
            "REELFORGE_CELERY_QUEUE_PREFIX": self.prefix,
            "REELFORGE_CELERY_MESSAGE_WAIT": "1",
            "REELFORGE_MODELS_FILE": str(models_file),
        }
        self.data_dir = tmp_path / "data"
        self.workers: dict[str, subprocess.Popen] = {}
        self.servers: list[ServerProcess] = []

    def settings(self) -> Settings:
        return Settings(
            data_dir=self.data_dir,
            database_url=self.database_url,
            **{k.removeprefix("REELFORGE_").lower(): v for k, v in self.env.items()},
        )

    def serve(self, **extra: str) -> ServerProcess:
        server = self._start_server(
            workers=0, env={**self.env, **extra}, database_url=self.database_url, data_dir=self.data_dir
        )
        self.servers.append(server)
        return server

    def worker(self, name: str, models: str, **extra: str) -> subprocess.Popen:
        """A real `reelforge worker --executor celery` process (its own session, so a kill takes it all)."""
        env = server_env(self.data_dir, {**self.env, **extra}, self.database_url)
        log = self.log_path(name)
        with open(log, "ab") as out:  # the child keeps its own copy
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "reelforge",
                    "worker",
                    "--executor",
                    "celery",
                    "--models",
                    models,
                    "--name",
                    name,
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.workers[name] = proc
        deadline = time.monotonic() + 60
        while " ready." not in self.log(name):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker {name} did not start:\n{self.log(name)}")
            time.sleep(0.1)
        return proc

    def log_path(self, name: str) -> Path:
        return self.tmp_path / f"worker-{name}.log"

    def log(self, name: str) -> str:
        path = self.log_path(name)
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Servers first (they may still be sending), then workers, then this deployment's queues."""
        for server in self.servers:
            server.stop()
        self.stop_workers()
        self.delete_queues()

    def stop_workers(self) -> None:
        for proc in self.workers.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.workers.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def purge(self) -> int:
        """Empty this deployment's queues (what a broker restart without persistence does); messages dropped."""
        from kombu import Connection

        dropped = 0
        with Connection(BROKERS[self.broker]) as conn:
            channel = conn.default_channel
            for name in queues_for(self.settings()):
                with contextlib.suppress(Exception):  # a queue never declared
                    dropped += channel.queue_purge(name) or 0
        return dropped

    def delete_queues(self) -> None:
        from kombu import Connection

        with Connection(BROKERS[self.broker]) as conn:
            channel = conn.default_channel
            for name in [*queues_for(self.settings()), f"{self.prefix}.default"]:
                try:
                    channel.queue_delete(name)
                except Exception:
                    channel = conn.channel()  # AMQP closes a channel on a missing queue
        if self.broker == "redis":  # messages of killed workers wait in Redis' unacked hash: drop ours
            import redis

            client = redis.Redis.from_url(BROKERS["redis"])
            for tag, payload in client.hgetall("unacked").items():
                if self.prefix.encode() in payload:
                    client.hdel("unacked", tag)
                    client.zrem("unacked_index", tag)
            for key in client.scan_iter(f"*{self.prefix}*"):
                client.delete(key)

    def ran_on(self, name: str, task_id: str) -> bool:
        return f"task {task_id} (" in self.log(name)


@pytest.fixture
def fleet_database_url(tmp_path: Path) -> Iterator[str]:
    """PostgreSQL (a fresh database) when configured, as a fleet would run; SQLite otherwise."""
    base = os.environ.get(PG_URL_ENV)
    if base:
        yield from _fresh_postgres_database(base)
    else:
        yield f"sqlite:///{tmp_path / 'reelforge.db'}"


def _missing(what: str) -> None:
    """Skip on a developer's machine without the service; in CI (which starts them) it is a failure."""
    if os.environ.get("CI"):
        pytest.fail(f"{what}: CI starts Redis and RabbitMQ (.ci/run), so the broker tests must run")
    pytest.skip(what)


@pytest.fixture(params=list(BROKERS))
def broker(request: pytest.FixtureRequest) -> str:
    if not _reachable(BROKERS[request.param]):
        _missing(f"no {request.param} broker at {BROKERS[request.param]}")
    return request.param


@pytest.fixture
def fleet(broker: str, fleet_database_url: str, tmp_path: Path, start_server) -> Iterator[Fleet]:
    deployment = Fleet(tmp_path, broker, fleet_database_url, start_server)
    yield deployment
    deployment.stop()


@pytest.fixture
def redis_fleet(fleet_database_url: str, tmp_path: Path, start_server) -> Iterator[Fleet]:
    if not _reachable(BROKERS["redis"]):
        _missing("no redis broker")
    deployment = Fleet(tmp_path, "redis", fleet_database_url, start_server)
    yield deployment
    deployment.stop()


def read(fleet: Fleet, query):  # type: ignore[no-untyped-def]
    services = build_services(Settings(data_dir=fleet.data_dir, database_url=fleet.database_url), migrate=False)
    try:
        with services.db.read() as conn:
            return conn.execute(query).all()
    finally:
        services.close()


def test_tasks_of_two_models_run_on_the_workers_of_their_queues(fleet: Fleet) -> None:
    server = fleet.serve()
    fleet.worker("only-a", "tiny-a")
    fleet.worker("only-b", "tiny-b")
    created = {
        model: [create(server, model, TINY).json()["taskId"] for _ in range(3)] for model in ("tiny-a", "tiny-b")
    }
    for model, ids in created.items():
        for task_id in ids:
            done = wait_for(server, task_id, {"COMPLETED", "FAILED"}, timeout=60)
            assert done["status"] == "COMPLETED", done
            mine, other = ("only-a", "only-b") if model == "tiny-a" else ("only-b", "only-a")
            assert fleet.ran_on(mine, task_id) and not fleet.ran_on(other, task_id)
    info = probe(download(done["output"]["videoUrl"], fleet.tmp_path / "out.mp4"))
    assert (info.width, info.height, info.codec) == (64, 64, "h264")


def test_sigkilled_worker_task_finishes_on_another_worker_charged_once(fleet: Fleet) -> None:
    server = fleet.serve(**FAST_LEASES)
    key = new_key(server, credits=100)
    doomed = fleet.worker("doomed", "slow", **FAST_LEASES)
    task_id = create(
        server, "slow", {"prompt": "a long pan", "aspectRatio": "16:9", "duration": "20"}, key=key["key"]
    ).json()["taskId"]
    deadline = time.monotonic() + 60
    while details(server, task_id, key["key"]).json()["progress"] < 5:
        assert time.monotonic() < deadline, fleet.log("doomed")
        time.sleep(0.1)
    fleet.worker("survivor", "slow", **FAST_LEASES)  # already up and idle, as in a fleet
    os.killpg(doomed.pid, signal.SIGKILL)  # the whole host goes: no goodbye to the broker or the database
    doomed.wait(10)
    assert details(server, task_id, key["key"]).json()["status"] == "PROGRESS"  # held by the dead worker

    done = wait_for(server, task_id, {"COMPLETED", "FAILED"}, key=key["key"], timeout=180)
    assert done["status"] == "COMPLETED", done
    assert fleet.ran_on("survivor", task_id)
    info = probe(download(done["output"]["videoUrl"], fleet.tmp_path / "slow.mp4"))
    assert info.duration == pytest.approx(20.0, abs=0.05)
    rows = read(fleet, select(ledger.c.reason, ledger.c.amount).where(ledger.c.task_id == task_id))
    assert [(r.reason, r.amount) for r in rows] == [("debit", -20)]
    [(attempts,)] = read(fleet, select(tasks.c.attempts).where(tasks.c.id == task_id))
    assert attempts == 2


def test_200_tasks_of_4_keys_with_a_per_key_limit_of_2(redis_fleet: Fleet) -> None:
    fleet = redis_fleet
    server = fleet.serve(REELFORGE_MAX_RUNNING_PER_KEY="2")
    keys = [new_key(server, credits=60, name=f"k{i}") for i in range(4)]
    ids: list[str] = []
    with httpx.Client(timeout=30) as client:  # each key its whole backlog in turn: the worst case for FIFO
        for key in keys:
            for _ in range(50):
                response = client.post(f"{server.url}/api/v1/generate/tiny-a", json=TINY, headers={"key": key["key"]})
                assert response.status_code == 200, response.text
                ids.append(response.json()["taskId"])
    for i in range(3):  # more workers than the limit: one key alone could not use them all
        fleet.worker(f"w{i}", "tiny-a", REELFORGE_MAX_RUNNING_PER_KEY="2")
    deadline = time.monotonic() + 240
    while True:
        states = dict(read(fleet, select(tasks.c.status, func.count()).group_by(tasks.c.status)))
        if states.get("succeeded") == 200:
            break
        assert time.monotonic() < deadline and not states.get("failed"), states
        time.sleep(0.5)

    rows = read(fleet, select(tasks.c.key_id, tasks.c.started_at, tasks.c.completed_at).order_by(tasks.c.started_at))
    spans = defaultdict(list)
    for row in rows:
        spans[row.key_id].append((row.started_at, row.completed_at))
    for key_spans in spans.values():  # never more than 2 of one key running at once
        for start, _ in key_spans:
            assert sum(1 for s, e in key_spans if s <= start < e) <= 2
    order = [row.key_id for row in rows]
    for key in keys:  # nobody waited for another key's backlog (first come, first served: k3 starts at 151)
        assert order.index(key["id"]) < 12, order
        assert order[:100].count(key["id"]) >= 12, {k["id"]: order[:100].count(k["id"]) for k in keys}
        total = read(fleet, select(func.sum(ledger.c.amount)).where(ledger.c.key_id == key["id"]))[0][0]
        reasons = read(
            fleet, select(ledger.c.reason, func.count()).where(ledger.c.key_id == key["id"]).group_by(ledger.c.reason)
        )
        assert total == 10 and dict(reasons) == {"grant": 1, "debit": 50}
    assert sum(fleet.ran_on(f"w{i}", ids[0]) for i in range(3)) == 1


def test_api_server_restarted_mid_run_loses_nothing(redis_fleet: Fleet) -> None:
    """The API server dies (SIGKILL: messages still unsent are gone) and the broker loses what it held;
    a new server announces every queued task again, and each one runs once."""
    fleet = redis_fleet
    server = fleet.serve()
    fleet.worker("w", "tiny-a,slow")
    blocker = create(server, "slow", {"prompt": "busy", "aspectRatio": "16:9", "duration": "20"}).json()["taskId"]
    ids = [create(server, "tiny-a", TINY).json()["taskId"] for _ in range(12)]
    assert server.proc is not None
    server.proc.kill()
    server.proc.wait()
    fleet.purge()
    queued = read(fleet, select(func.count()).where(tasks.c.status == "queued"))[0][0]
    assert queued >= 10  # the worker is busy with the slow task: these waited, and their messages are gone

    restarted = fleet.serve()
    for task_id in [blocker, *ids]:
        done = wait_for(restarted, task_id, {"COMPLETED", "FAILED"}, timeout=120)
        assert done["status"] == "COMPLETED", done
    [(attempts,)] = read(fleet, select(func.max(tasks.c.attempts)))
    assert attempts == 1
    rows = read(
        fleet, select(ledger.c.reason, func.count()).where(ledger.c.task_id.is_not(None)).group_by(ledger.c.reason)
    )
    assert dict(rows) == {"debit": 13}


def test_tasks_whose_messages_the_broker_lost_are_announced_again(redis_fleet: Fleet) -> None:
    """The broker loses its messages (a Redis restart without persistence) while the API server runs:
    its periodic check finds tasks waiting in queues that hold no message and announces them again."""
    fleet = redis_fleet
    server = fleet.serve(REELFORGE_CELERY_REANNOUNCE_INTERVAL="1")
    ids = [create(server, "tiny-a", TINY).json()["taskId"] for _ in range(3)]
    time.sleep(0.5)  # let the server send them, then lose them
    assert fleet.purge() == 3
    fleet.worker("w", "tiny-a")
    for task_id in ids:
        assert wait_for(server, task_id, {"COMPLETED", "FAILED"}, timeout=60)["status"] == "COMPLETED"
    assert "announcing them again" in server.log()


def test_the_queue_bound_holds_under_the_celery_executor(redis_fleet: Fleet) -> None:
    server = redis_fleet.serve(REELFORGE_MAX_QUEUED_TASKS="2")  # no workers: tasks stay queued
    assert all(create(server, "tiny-a", TINY).status_code == 200 for _ in range(2))
    refused = create(server, "tiny-a", TINY)
    assert refused.status_code == 503 and refused.headers.get("retry-after")


def test_cancel_and_shutdown_stay_cooperative(redis_fleet: Fleet) -> None:
    """A running task is cancelled through the job table (refunded), and a worker stopped with SIGTERM gives
    its running task back (the attempt does not count) for another worker to finish."""
    fleet = redis_fleet
    server = fleet.serve()
    key = new_key(server, credits=100)
    first = fleet.worker("first", "slow")
    slow = {"prompt": "a long pan", "aspectRatio": "16:9", "duration": "20"}

    def started(task_id: str) -> None:
        deadline = time.monotonic() + 60
        while details(server, task_id, key["key"]).json()["progress"] < 5:
            assert time.monotonic() < deadline, fleet.log("first")
            time.sleep(0.1)

    cancelled = create(server, "slow", slow, key=key["key"]).json()["taskId"]
    started(cancelled)
    services = build_services(fleet.settings(), migrate=False)
    try:
        services.tasks.cancel(cancelled, key["id"], allow_running=True)  # what a DELETE /v1/videos/{id} does
    finally:
        services.close()
    assert wait_for(server, cancelled, {"COMPLETED", "FAILED", "CANCEL"}, key=key["key"])["status"] == "CANCEL"

    given_back = create(server, "slow", slow, key=key["key"]).json()["taskId"]
    started(given_back)
    first.send_signal(signal.SIGTERM)
    first.wait(30)
    assert details(server, given_back, key["key"]).json()["status"] == "SUBMITTED"  # queued again at once
    fleet.worker("second", "slow")
    assert wait_for(server, given_back, {"COMPLETED", "FAILED"}, key=key["key"], timeout=120)["status"] == "COMPLETED"
    assert fleet.ran_on("second", given_back)
    [(attempts,)] = read(fleet, select(tasks.c.attempts).where(tasks.c.id == given_back))
    assert attempts == 1
    rows = read(fleet, select(ledger.c.task_id, ledger.c.reason).where(ledger.c.task_id.is_not(None)))
    assert sorted((r.task_id == cancelled, r.reason) for r in rows) == [
        (False, "debit"),
        (True, "debit"),
        (True, "refund"),
    ]


# ------------------------------------------------------------------ in process, no broker


@pytest.fixture
def local_services(database_url: str, tmp_path: Path) -> Iterator:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        models_file=_models(tmp_path),
        celery_message_wait=0.3,
        max_running_per_key=1,
    )
    services = build_services(settings)
    yield services
    services.close()


def _models(tmp_path: Path) -> Path:
    path = tmp_path / "models.toml"
    path.write_text(MODELS_TOML)
    return path


def _tiny(services, key_id: str) -> str:  # type: ignore[no-untyped-def]
    from reelforge.domain.request import GenerationRequest, Kind
    from reelforge.tasks.service import Submission

    request = GenerationRequest(kind=Kind.TEXT_TO_VIDEO, prompt="x", width=64, height=64, fps=8, duration=1)
    return services.tasks.submit(key_id, Submission("tiny-a", request, {}, "aivideomaker")).id


def test_a_message_runs_the_fairest_task_waits_for_a_blocked_key_and_drops_when_unneeded(local_services) -> None:
    from celery.exceptions import Reject

    from reelforge.domain.task import TaskStatus
    from reelforge.runtime.celery_worker import Handler
    from reelforge.runtime.worker import Worker

    services = local_services
    key = services.keys.create(credits=10).key
    first, second = _tiny(services, key.id), _tiny(services, key.id)
    handler = Handler(Worker(services, name="w"))
    assert services.work.claim("elsewhere").id == first  # the key's one allowed task runs elsewhere
    with pytest.raises(Reject) as rejected:  # `second` waits for its key: the message goes back
        handler.handle(second, ["tiny-a"])
    assert rejected.value.requeue
    assert services.tasks.get(second).status == TaskStatus.QUEUED
    services.work.release(first, "elsewhere")
    assert handler.handle(second, ["tiny-a"]) is True  # ran the fairest task: `first`, not the one named
    assert services.tasks.get(first).status == TaskStatus.SUCCEEDED
    assert handler.handle(first, ["tiny-a"]) is True and services.tasks.get(second).status == TaskStatus.SUCCEEDED
    assert handler.handle(first, ["tiny-a"]) is False  # nothing waits: an extra message is dropped


def test_queues_are_per_model_or_per_group(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        models_file=_models(tmp_path),
        celery_queue_prefix="rf",
        celery_model_queues={"tiny-a": "tiny", "tiny-b": "tiny"},
    )
    assert queues_for(settings) == {"rf.slow": ["slow"], "rf.tiny": ["tiny-a", "tiny-b"]}
    assert queues_for(settings, ["tiny-b"]) == {"rf.tiny": ["tiny-a", "tiny-b"]}  # a group is served whole
    with pytest.raises(Exception, match="Unknown model"):
        queues_for(settings, ["nope"])

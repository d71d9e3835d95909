"""Webhooks and rate limits across processes: several dispatchers share one outbox, API servers share one limit.

- three dispatchers (each with its own connection pool, as separate API servers have) drain one outbox:
  every event is delivered exactly once, in order per task, on SQLite and PostgreSQL;
- an API server killed mid-delivery: another server delivers the event again with the same `webhook-id`
  and body (at least once), and nothing else twice;
- two API servers configured with Redis count one query limit between them.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from reelforge.config import Settings
from reelforge.domain.request import GenerationRequest, Kind
from reelforge.domain.task import Task
from reelforge.services import build_services
from reelforge.tasks.service import Submission
from reelforge.webhooks.dispatcher import WebhookDispatcher
from tests.conftest import PG_URL_ENV, _fresh_postgres_database
from tests.helpers import LocalHTTPServer, create, eventually, wait_for

REDIS_URL = "redis://127.0.0.1:6379/15"
T2V = {"prompt": "lanterns over a river", "aspectRatio": "1:1", "duration": "5"}


@pytest.fixture
def pg_url() -> Iterator[str]:
    base = os.environ.get(PG_URL_ENV)
    if not base:
        pytest.skip(f"needs {PG_URL_ENV} (CI sets it)")
    yield from _fresh_postgres_database(base)


def _ok(method: str, path: str, headers: dict, body: bytes) -> tuple[int, dict, bytes]:
    return 200, {}, b"ok"


def _submission(receiver_url: str, index: int) -> Submission:
    request = GenerationRequest(
        kind=Kind.TEXT_TO_VIDEO, prompt=f"scene {index}", width=160, height=96, fps=12, duration=5, seed=index
    )
    return Submission(
        model="t2v",
        request=request,
        input={"prompt": f"scene {index}"},
        dialect="test",
        webhook_url=f"{receiver_url}/hook",
    )


def test_three_dispatchers_deliver_each_event_once_in_order(database_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, allow_private_urls=True)
    services = build_services(settings)
    receiver = LocalHTTPServer(_ok)
    try:
        key = services.keys.create("fleet", credits=1000).key
        task_ids = []
        for index in range(15):  # each task: a submitted event, then a cancelled one
            task = services.tasks.submit(key.id, _submission(receiver.url, index))
            task_ids.append(task.id)
        for task_id in task_ids[::2]:
            services.tasks.cancel(task_id, key.id)
        expected = len(task_ids) + len(task_ids[::2])

        def render(dialect: str, task: Task) -> dict[str, Any]:
            return {"id": task.id, "status": task.status.value}

        # separate Database objects, as separate API servers would have
        fleet = [build_services(settings, migrate=False) for _ in range(3)]
        dispatchers = [WebhookDispatcher(member.db, settings, render) for member in fleet]

        async def drain() -> None:
            stop = asyncio.Event()
            runs = [asyncio.create_task(d.run(stop, interval=0.05)) for d in dispatchers]
            try:
                delivered = lambda: len(receiver.requests) >= expected  # noqa: E731
                await asyncio.to_thread(eventually, delivered, timeout=60, what=f"{expected} deliveries")
                await asyncio.sleep(1.0)  # room for a duplicate to show up, if there were one
            finally:
                stop.set()
                await asyncio.gather(*runs)

        asyncio.run(drain())
        for member in fleet:
            member.close()
    finally:
        receiver.close()
        services.close()

    ids = Counter(request["headers"]["webhook-id"] for request in receiver.requests)
    assert len(ids) == expected and set(ids.values()) == {1}  # every event, none twice
    by_task: dict[str, list[str]] = {}
    for request in receiver.requests:
        body = json.loads(request["body"])
        by_task.setdefault(body["id"], []).append(body["status"])
    for index, task_id in enumerate(task_ids):
        assert by_task[task_id] == (["queued", "cancelled"] if index % 2 == 0 else ["queued"])


def test_a_server_killed_mid_delivery_leaves_the_event_to_another(start_server, pg_url: str) -> None:
    env = {"REELFORGE_WEBHOOK_CLAIM_SECONDS": "3", "REELFORGE_LEASE_SECONDS": "3", "REELFORGE_HEARTBEAT_SECONDS": "1"}
    first_arrived = threading.Event()
    release = threading.Event()

    def respond(method: str, path: str, headers: dict, body: bytes) -> tuple[int, dict, bytes]:
        if not first_arrived.is_set():
            first_arrived.set()
            release.wait(20)  # hold the first delivery open while its server is killed
        return 200, {}, b"ok"

    receiver = LocalHTTPServer(respond)
    doomed = start_server(workers=0, database_url=pg_url, env=env)
    try:
        key = doomed.new_key(credits=50)
        response = create(doomed, "t2v", T2V, key=key["key"], headers={"webhookUrl": f"{receiver.url}/hook"})
        assert response.status_code == 200, response.text
        task_id = response.json()["taskId"]
        assert first_arrived.wait(30)
        os.kill(doomed.proc.pid, signal.SIGKILL)  # mid-delivery: the outcome is never recorded
        doomed.proc.wait()
        release.set()
        survivor = start_server(workers=1, database_url=pg_url, env=env)
        wait_for(survivor, task_id, {"COMPLETED"}, key=key["key"])
        eventually(
            lambda: any(json.loads(r["body"])["status"] == "COMPLETED" for r in receiver.requests),
            timeout=30,
            what="the COMPLETED event delivered",
        )
    finally:
        release.set()
        receiver.close()

    deliveries = receiver.requests
    ids = Counter(d["headers"]["webhook-id"] for d in deliveries)
    first = deliveries[0]
    assert ids[first["headers"]["webhook-id"]] == 2  # sent again by the survivor ...
    again = next(d for d in deliveries[1:] if d["headers"]["webhook-id"] == first["headers"]["webhook-id"])
    assert again["body"] == first["body"]  # ... with the same id and body, so receivers can de-duplicate
    assert [n for n in ids.values() if n > 1] == [2]  # nothing else twice
    statuses = [json.loads(d["body"])["status"] for d in deliveries]
    assert statuses[0] == statuses[1] == "SUBMITTED" and statuses[-1] == "COMPLETED"


def test_two_servers_share_one_rate_limit_through_redis(start_server, pg_url: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        if os.environ.get("CI"):
            raise
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    for stale in client.scan_iter("LIMITS*"):
        client.delete(stale)
    limit = f"{7 + uuid.uuid4().int % 50}/minute"  # a limit no other test uses at the same time
    per_minute = int(limit.split("/")[0])
    env = {"REELFORGE_RATE_LIMIT_STORAGE": REDIS_URL, "REELFORGE_QUERY_RATE_LIMIT": limit}
    servers = [start_server(workers=0, database_url=pg_url, env=env) for _ in range(2)]
    key = servers[0].key
    answers = [httpx.get(f"{servers[i % 2].url}/api/v1/tasks", headers={"key": key}) for i in range(per_minute)]
    assert [a.status_code for a in answers] == [200] * per_minute  # the limit, spread over both servers
    refused = httpx.get(f"{servers[1].url}/api/v1/tasks", headers={"key": key})
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.json()["code"] == "RATE_LIMITED"

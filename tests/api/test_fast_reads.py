"""The fast read path (`api/fastread.py`): the same answers as the declared routes, never stale, and the
read limits (per IP, per key) on every dialect's reads and on `/mcp`, in each dialect's error shape."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from reelforge.api.fastread import FastReads
from reelforge.domain.task import TaskOutput
from reelforge.server import create_app
from tests.asgi import InProcessApp, QueueOnly, in_process_app

T2V = {"prompt": "a lighthouse at dusk", "aspectRatio": "16:9", "duration": "5"}


@pytest.fixture
def app_on(database_url: str, tmp_path: Path) -> Iterator[InProcessApp]:
    """The app in-process on SQLite and on PostgreSQL (the `database_url` parameters)."""
    yield from in_process_app(tmp_path / "data", database_url=database_url)


def _tasks(api: InProcessApp) -> tuple[str, dict[str, list[tuple[str, dict[str, str]]]]]:
    """A key, and for each dialect the polling reads of one of its tasks (path, headers)."""
    key = api.new_key(credits=500)
    aivm = api.client.post("/api/v1/generate/t2v", headers={"key": key}, json=T2V).json()["taskId"]
    bearer = {"Authorization": f"Bearer {key}"}
    video = api.client.post("/v1/videos", headers=bearer, json={"prompt": "a kite", "seconds": "4"}).json()["id"]
    token = api.client.post("/api/v1/tokens", headers={"key": key}, json={}).json()["token"]
    job = api.client.post(
        "/api/v1/videos/from-prompt", headers={"Authorization": f"Bearer {token}"}, json={"prompt": "a harbour"}
    ).json()["jobId"]
    return key, {
        aivm: [(f"/api/v1/tasks/{aivm}/status", {"key": key}), (f"/api/v1/tasks/{aivm}", {"key": key})],
        video: [(f"/v1/videos/{video}", bearer)],
        job: [(f"/api/v1/jobs/{job}", {"Authorization": f"Bearer {token}"})],
    }


def _without_fast_path(api: InProcessApp) -> TestClient:
    app = create_app(api.services, QueueOnly(), run_dispatcher=False)
    app.user_middleware = [m for m in app.user_middleware if m.cls is not FastReads]
    return TestClient(app)


def _unsigned(body: Any) -> Any:
    """The body (keys in order: JSON objects are unordered) with signed links' expiry and signature
    blanked (they are minted per response)."""
    text = re.sub(r"expires=\d+&signature=[\w-]+", "expires=&signature=", json.dumps(body, sort_keys=True))
    return re.sub(r'"(expiresAt|expires_at)": [^,}]+', r'"\1": _', text)


def _finish(api: InProcessApp, task_id: str, *, complete: bool) -> None:
    claimed = api.services.work.claim("test-worker", task_id=task_id)
    assert claimed is not None
    api.services.work.progress(task_id, 40)
    if complete:
        output = TaskOutput(f"outputs/{task_id}.mp4", f"outputs/{task_id}.jpg", 5.0, 1280, 720, 24.0)
        api.services.work.complete(task_id, output, owner="test-worker")


@pytest.mark.parametrize("state", ["queued", "running", "completed"])
def test_fast_answers_are_the_routes_answers(app_on: InProcessApp, state: str) -> None:
    _, reads = _tasks(app_on)
    for task_id in reads:
        if state != "queued":
            _finish(app_on, task_id, complete=state == "completed")
    with _without_fast_path(app_on) as slow:
        for path, headers in (read for each in reads.values() for read in each):
            fast_answer = app_on.client.get(path, headers=headers)
            route_answer = slow.get(path, headers=headers)
            assert fast_answer.status_code == route_answer.status_code == 200, path
            assert _unsigned(fast_answer.json()) == _unsigned(route_answer.json()), path
            assert fast_answer.headers.get("openai-poll-after-ms") == route_answer.headers.get("openai-poll-after-ms")
            assert fast_answer.headers["content-type"] == route_answer.headers["content-type"]


def test_a_status_read_right_after_completion_says_completed(app_on: InProcessApp) -> None:
    key = app_on.new_key()
    task_id = app_on.client.post("/api/v1/generate/t2v", headers={"key": key}, json=T2V).json()["taskId"]
    status = f"/api/v1/tasks/{task_id}/status"
    assert app_on.client.get(status, headers={"key": key}).json() == {"status": "SUBMITTED", "progress": 0}
    _finish(app_on, task_id, complete=False)
    assert app_on.client.get(status, headers={"key": key}).json() == {"status": "PROGRESS", "progress": 40}
    output = TaskOutput(f"outputs/{task_id}.mp4", f"outputs/{task_id}.jpg", 5.0, 1280, 720, 24.0)
    app_on.services.work.complete(task_id, output, owner="test-worker")
    assert app_on.client.get(status, headers={"key": key}).json() == {"status": "COMPLETED", "progress": 100}
    details = app_on.client.get(f"/api/v1/tasks/{task_id}", headers={"key": key}).json()
    assert details["status"] == "COMPLETED"


def test_revocation_deletion_and_tenancy_show_on_the_next_poll(app_on: InProcessApp) -> None:
    key, reads = _tasks(app_on)
    other = app_on.new_key()
    other_token = app_on.client.post("/api/v1/tokens", headers={"key": other}, json={}).json()["token"]
    for path, headers in (read for each in reads.values() for read in each):
        assert app_on.client.get(path, headers=headers).status_code == 200
        theirs = other_token if path.startswith("/api/v1/jobs/") else other
        stolen = {name: theirs if value == key else f"Bearer {theirs}" for name, value in headers.items()}
        assert app_on.client.get(path, headers=stolen).status_code == 404, path  # another key's task
        assert app_on.client.get(path, headers={"key": "rf_wrong"}).status_code == 401, path
        assert app_on.client.get(path).status_code == 401, path
    video = next(task_id for task_id, each in reads.items() if each[0][0].startswith("/v1/"))
    bearer = {"Authorization": f"Bearer {key}"}
    assert app_on.client.delete(f"/v1/videos/{video}", headers=bearer).status_code == 200
    assert app_on.client.get(f"/v1/videos/{video}", headers=bearer).status_code == 404
    token_id = next(t.id for t in app_on.services.tokens.tokens_of(app_on.key_id(key)))
    app_on.services.tokens.revoke(token_id)
    job_path, job_headers = next(each[0] for each in reads.values() if each[0][0].startswith("/api/v1/jobs/"))
    assert app_on.client.get(job_path, headers=job_headers).status_code == 401
    app_on.services.keys.revoke(app_on.key_id(key))
    for path, headers in (read for each in reads.values() for read in each):
        assert app_on.client.get(path, headers=headers).status_code == 401, path


def _limited(tmp_path: Path, **limits: str) -> Iterator[InProcessApp]:
    return in_process_app(tmp_path / "data", **limits)


def test_every_read_is_limited_per_ip_in_its_dialects_shape(tmp_path: Path) -> None:
    for api in _limited(tmp_path, query_rate_limit="3/minute", key_query_rate_limit="1000/minute"):
        key, reads = _tasks(api)
        shapes = {
            "/api/v1/tasks/": lambda body: body["status"] == "FAILED" and body["code"] == "RATE_LIMITED",
            "/v1/videos/": lambda body: (
                body["error"]["code"] == "RATE_LIMITED" and body["error"]["type"] == "rate_limit_error"
            ),
            "/api/v1/jobs/": lambda body: body["error"]["code"] == "RATE_LIMITED",
        }
        for path, headers in (read for each in reads.values() for read in each):
            shape = next(check for prefix, check in shapes.items() if path.startswith(prefix))
            refused = api.client.get(path, headers=headers)  # the 3 creates' IP is spent by the first reads
            for _ in range(3):
                if refused.status_code != 429:
                    refused = api.client.get(path, headers=headers)
            assert refused.status_code == 429, path
            assert 1 <= int(refused.headers["Retry-After"]) <= 60
            assert shape(refused.json()), refused.json()
        bearer = {"Authorization": f"Bearer {key}"}
        for path in ("/api/v1/tasks", "/v1/videos", "/api/v1/tokens"):
            assert api.client.get(path, headers={"key": key, **bearer}).status_code == 429, path
        assert api.client.post("/api/actions/ai.video.query", headers=bearer, json={"taskId": "x"}).status_code == 429
        # a bad key counts against the IP too (checked before authentication)
        assert api.client.get("/api/v1/tasks/x/status", headers={"key": "rf_wrong"}).status_code == 429


def test_reads_are_limited_per_key_whatever_the_ip(tmp_path: Path) -> None:
    for api in _limited(tmp_path, query_rate_limit="1000/minute", key_query_rate_limit="4/minute"):
        _, reads = _tasks(api)
        other = api.new_key()
        path, headers = next(iter(reads.values()))[0]
        far = TestClient(api.client.app, client=("203.0.113.9", 50000))
        answers = [client.get(path, headers=headers).status_code for client in (api.client, far) * 3]
        assert answers[:4] == [200] * 4 and answers[4:] == [429, 429]
        refused = far.get(path, headers=headers)
        assert refused.json()["code"] == "RATE_LIMITED" and "per API key" in refused.json()["message"]
        own = api.client.post("/api/v1/generate/t2v", headers={"key": other}, json=T2V).json()["taskId"]
        assert far.get(f"/api/v1/tasks/{own}/status", headers={"key": other}).status_code == 200  # its own count


def test_mcp_is_limited_per_ip_and_per_key(tmp_path: Path) -> None:
    for api in _limited(tmp_path, query_rate_limit="1000/minute", key_query_rate_limit="2/minute"):
        key = api.new_key()
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        headers = {"Authorization": f"Bearer {key}", "Accept": "application/json, text/event-stream"}
        codes = [api.client.post("/mcp", headers=headers, json=body).status_code for _ in range(3)]
        assert codes[:2] != [429, 429] and codes[2] == 429
        refused = api.client.post("/mcp", headers=headers, json=body)
        assert refused.json()["error"]["code"] == "RATE_LIMITED" and int(refused.headers["retry-after"]) >= 1
    for api in _limited(tmp_path / "ip", query_rate_limit="1/minute", key_query_rate_limit="1000/minute"):
        headers = {"Authorization": "Bearer rf_wrong", "Accept": "application/json, text/event-stream"}
        assert api.client.post("/mcp", headers=headers, json=body).status_code == 401
        assert api.client.post("/mcp", headers=headers, json=body).status_code == 429


@pytest.mark.broker
def test_two_servers_share_the_per_key_limit_through_redis(tmp_path: Path) -> None:
    """A fleet: two apps (two API servers) on one database count one key's reads in the same Redis."""
    import os
    import uuid

    import redis

    url = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url).ping()
    except redis.ConnectionError:
        if os.environ.get("CI"):
            raise
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    per_key = f"{5 + uuid.uuid4().int % 40}/minute"  # a limit no other test uses at the same time
    allowed = int(per_key.split("/")[0])
    settings = {"rate_limit_storage": url, "query_rate_limit": "100000/minute", "key_query_rate_limit": per_key}
    database = f"sqlite:///{tmp_path / 'shared.db'}"
    for first in in_process_app(tmp_path / "a", database_url=database, **settings):
        for second in in_process_app(tmp_path / "b", database_url=database, **settings):
            key = first.new_key()
            task_id = first.client.post("/api/v1/generate/t2v", headers={"key": key}, json=T2V).json()["taskId"]
            far = TestClient(second.client.app, client=("198.51.100.7", 40000))
            clients = (first.client, far)
            paths = (f"/api/v1/tasks/{task_id}/status", f"/api/v1/tasks/{task_id}")
            codes = [clients[i % 2].get(paths[i % 2], headers={"key": key}).status_code for i in range(allowed)]
            assert codes == [200] * allowed
            refused = far.get(paths[0], headers={"key": key})
            assert refused.status_code == 429 and refused.json()["code"] == "RATE_LIMITED"
            assert 1 <= int(refused.headers["Retry-After"]) <= 60

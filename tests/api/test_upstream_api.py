"""Hosted providers behind model names, end to end: a front reelforge whose models run on the `upstream`
engine, and other reelforge servers playing the providers (AIVideoMaker API and OpenAI-style /v1/videos).

Upstreams: `plain` (one worker), `idle` (no worker: its tasks stay queued, to cancel them), `limited`
(query endpoints at 1/second, so polls meet 429 + Retry-After), and `gateway`, a loopback proxy in front
of `plain` that rate-limits `/v1/videos/{id}` polls (reelforge limits only the AIVideoMaker query
endpoints) and, for one model name, answers with an error quoting the key it was sent.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest

from reelforge.domain.request import GenerationRequest, Kind
from reelforge.engines.base import create_engine
from reelforge.media.probe import probe
from tests.conftest import ServerProcess
from tests.engines.fake_context import FakeContext
from tests.helpers import LocalHTTPServer, balance, create, details, download, wait_for

PROVIDERS = ["aivideomaker", "openai-videos"]
KEY_VARS = {"plain": "RF_TEST_PLAIN_KEY", "idle": "RF_TEST_IDLE_KEY", "limited": "RF_TEST_LIMITED_KEY"}
FAST_POLLS = {"poll_interval": 0.2, "max_poll_interval": 0.5, "timeout": 120}
FAST_LEASES = {"REELFORGE_LEASE_SECONDS": "2", "REELFORGE_HEARTBEAT_SECONDS": "0.3"}  # a killed worker's task


class Gateway:
    """A proxy to `target` that answers the first two polls of each video with 429 + Retry-After: 1."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.limited: dict[str, int] = {}
        self.http = httpx.Client(timeout=30)
        self.server = LocalHTTPServer(self.respond)
        self.url = self.server.url

    def respond(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if method == "POST" and b'"echo-key"' in body:
            message = f"model echo-key does not accept the credentials {headers.get('authorization')}"
            return (
                400,
                {"content-type": "application/json"},
                json.dumps(
                    {"error": {"message": message, "type": "invalid_request_error", "code": "invalid_request"}}
                ).encode(),
            )
        parts = path.split("?")[0].strip("/").split("/")
        if method == "GET" and len(parts) == 3 and parts[:2] == ["v1", "videos"]:
            seen = self.limited.get(parts[2], 0)
            if seen < 2:
                self.limited[parts[2]] = seen + 1
                return (
                    429,
                    {"retry-after": "1", "content-type": "application/json"},
                    b'{"error": {"message": "slow down", "type": "rate_limit_error"}}',
                )
        forwarded = {k: v for k, v in headers.items() if k not in ("host", "content-length", "connection")}
        answer = self.http.request(method, self.target + path, headers=forwarded, content=body)
        kept = {k: v for k, v in answer.headers.items() if k in ("content-type", "retry-after", "location")}
        return answer.status_code, kept, answer.content

    def close(self) -> None:
        self.server.close()
        self.http.close()


@dataclass
class Cluster:
    front: ServerProcess
    plain: ServerProcess
    idle: ServerProcess
    limited: ServerProcess
    gateway: Gateway
    upstream_keys: list[str] = field(default_factory=list)


def _model(name: str, kind: str, provider: str, base_url: str, key_var: str, upstream_model: str, **extra: Any) -> str:
    settings = {
        "provider": provider,
        "base_url": base_url,
        "api_key_env": key_var,
        "model": upstream_model,
        **FAST_POLLS,
        **extra,
    }
    lines = [
        f'[models."{name}"]',
        'engine = "upstream"',
        f'kind = "{kind}"',
        "credits_per_second = 1",
        # /v1/videos checks `seconds` against the model's durations: the openai-videos models take the 2 s clips
        # the tests ask for (an Agnes 480p tier renders them quickly)
        "durations = [2, 5, 8, 10]" if provider == "openai-videos" else "durations = [5, 8, 10]",
        'aspect_ratios = ["16:9", "9:16", "1:1"]',
        "",
        f'[models."{name}".settings]',
    ]
    lines += [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
    return "\n".join(lines) + "\n\n"


def models_file(path: Path, plain: str, idle: str, limited: str, gateway: str) -> Path:
    """The front's catalog (REELFORGE_MODELS_FILE replaces the built-in one, so only these models exist)."""
    plain_key, idle_key, limited_key = KEY_VARS["plain"], KEY_VARS["idle"], KEY_VARS["limited"]
    text = "".join(
        [
            _model("hosted-t2v", "text_to_video", "aivideomaker", plain, plain_key, "t2v"),
            _model("hosted-i2v", "image_to_video", "aivideomaker", plain, plain_key, "i2v"),
            _model(
                "hosted-bad", "text_to_video", "aivideomaker", plain, plain_key, "t2v_nope", kinds=["text_to_video"]
            ),
            _model("hosted-nokey", "text_to_video", "aivideomaker", plain, "RF_TEST_UNSET_KEY", "t2v"),
            _model("agnes", "text_to_video", "openai-videos", plain, plain_key, "agnes-video-v2.0"),
            _model("agnes-bad", "text_to_video", "openai-videos", plain, plain_key, "no-such-model"),
            _model("agnes-echo", "text_to_video", "openai-videos", gateway, plain_key, "echo-key"),
            _model("idle-t2v", "text_to_video", "aivideomaker", idle, idle_key, "t2v"),
            _model("idle-agnes", "text_to_video", "openai-videos", idle, idle_key, "agnes-video-v2.0"),
            _model("limited-t2v", "text_to_video", "aivideomaker", limited, limited_key, "t2v"),
            _model("gateway-agnes", "text_to_video", "openai-videos", gateway, plain_key, "agnes-video-v2.0"),
        ]
    )
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("upstream")
    started: list[ServerProcess] = []
    gateway = None
    try:
        plain = ServerProcess(base / "plain", workers=1).start()
        started.append(plain)
        idle = ServerProcess(base / "idle", workers=0).start()
        started.append(idle)
        limited = ServerProcess(base / "limited", workers=1, env={"REELFORGE_QUERY_RATE_LIMIT": "1/second"}).start()
        started.append(limited)
        gateway = Gateway(plain.url)
        catalog = models_file(base / "front-models.toml", plain.url, idle.url, limited.url, gateway.url)
        front = ServerProcess(
            base / "front",
            workers=1,
            env={
                **FAST_LEASES,
                "REELFORGE_MODELS_FILE": str(catalog),
                KEY_VARS["plain"]: plain.key,
                KEY_VARS["idle"]: idle.key,
                KEY_VARS["limited"]: limited.key,
            },
        ).start()
        started.append(front)
        yield Cluster(front, plain, idle, limited, gateway, [plain.key, idle.key, limited.key])
    finally:
        for server in started:
            server.stop()
        if gateway is not None:
            gateway.close()


# ------------------------------------------------------------- front dialects


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def create_video(server: ServerProcess, body: dict, key: str | None = None) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/videos", json=body, headers=bearer(key or server.key), timeout=30)


def wait_video(server: ServerProcess, video_id: str, statuses: set[str], timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        body = httpx.get(f"{server.url}/v1/videos/{video_id}", headers=bearer(server.key), timeout=30).json()
        if body.get("status") in statuses:
            return body
        time.sleep(0.2)
    raise AssertionError(f"video {video_id} did not reach {statuses}; last: {body}\n{server.log()[-3000:]}")


def submit(front: ServerProcess, provider: str, model: str, **fields: Any) -> str:
    """A create on the front in the dialect matching the provider kind behind `model`."""
    if provider == "aivideomaker":
        response = create(
            front, model, {"prompt": "lanterns over a river", "aspectRatio": "1:1", "duration": "5", **fields}
        )
        assert response.status_code == 200, response.text
        return response.json()["taskId"]
    response = create_video(
        front, {"model": model, "prompt": "a paper boat on a stream", "seconds": "2", "size": "480x480", **fields}
    )
    assert response.status_code == 200, response.text
    return response.json()["id"]


def finished(front: ServerProcess, provider: str, task_id: str) -> dict:
    """The front task once terminal, as {status, error, video_url} whatever the dialect."""
    if provider == "aivideomaker":
        body = wait_for(front, task_id, {"COMPLETED", "FAILED", "CANCEL"})
        return {
            "status": {"COMPLETED": "completed", "FAILED": "failed"}.get(body["status"], body["status"]),
            "error": body.get("error"),
            "video_url": (body.get("output") or {}).get("videoUrl"),
            "thumbnail_url": (body.get("output") or {}).get("thumbnailUrl"),
            "raw": body,
        }
    body = wait_video(front, task_id, {"completed", "failed"})
    return {
        "status": body["status"],
        "error": body.get("error"),
        "video_url": body.get("video_url"),
        "thumbnail_url": None,
        "raw": body,
    }


def task_ledger(server: ServerProcess, task_id: str) -> list[dict]:
    return [entry for entry in balance(server, server.key_id)[1] if entry["taskId"] == task_id]


def worker_pids(server: ServerProcess) -> list[int]:
    """The server's worker processes, including those its watchdog thread restarted (children of that thread,
    which `ServerProcess.worker_pids` does not list)."""
    assert server.proc is not None
    return [
        int(pid)
        for children in Path(f"/proc/{server.proc.pid}/task").glob("*/children")
        for pid in children.read_text().split()
    ]


def upstream_tasks(server: ServerProcess) -> list[dict]:
    return httpx.get(f"{server.url}/api/v1/tasks", headers={"key": server.key}, timeout=30).json()["tasks"]


# ------------------------------------------------------------------- tests


@pytest.mark.parametrize("provider", PROVIDERS)
def test_success_downloads_the_providers_video_and_charges_the_front(
    cluster: Cluster, provider: str, tmp_path: Path
) -> None:
    front = cluster.front
    before = len(upstream_tasks(cluster.plain))
    task_id = submit(front, provider, "hosted-t2v" if provider == "aivideomaker" else "agnes")
    result = finished(front, provider, task_id)
    assert result["status"] == "completed", result

    video = download(result["video_url"], tmp_path / "video.mp4")
    info = probe(video, count_frames=True)
    assert info.codec == "h264"
    if provider == "aivideomaker":  # t2v at 1:1 on a 720p model: 720x720, 24 fps, 5 s
        assert (info.width, info.height, info.fps, info.frame_count) == (720, 720, 24, 120)
        assert info.duration == pytest.approx(5.0, abs=0.05)
        assert download(result["thumbnail_url"], tmp_path / "thumb.jpg").read_bytes()[:2] == b"\xff\xd8"
        assert result["raw"]["output"]["width"] == 720 and result["raw"]["output"]["duration"] == pytest.approx(5.0)
    else:  # seconds "2" at 24 fps, 480x480 (an Agnes 480p 1:1 tier); downloaded through /content
        assert (info.width, info.height, info.fps, info.frame_count) == (480, 480, 24, 48)
        assert info.duration == pytest.approx(2.0, abs=0.05)
        thumb = httpx.get(
            f"{front.url}/v1/videos/{task_id}/content",
            params={"variant": "thumbnail"},
            headers=bearer(front.key),
            timeout=30,
        )
        assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"
    cost = 5 if provider == "aivideomaker" else 2
    assert [(e["reason"], e["amount"]) for e in task_ledger(front, task_id)] == [("debit", -cost)]
    assert len(upstream_tasks(cluster.plain)) == before + 1  # exactly one provider task per front task


@pytest.mark.parametrize(
    ("provider", "case"),
    [
        ("aivideomaker", "image-404"),
        ("aivideomaker", "unknown-model"),
        ("openai-videos", "image-404"),
        ("openai-videos", "unknown-model"),
    ],
)
def test_provider_failure_fails_the_task_with_a_mapped_code_and_refunds(
    cluster: Cluster, provider: str, case: str, tmp_path: Path
) -> None:
    missing = LocalHTTPServer(lambda *_: (404, {"content-type": "text/plain"}, b"no such image"))
    front = cluster.front
    try:
        before = balance(front, front.key_id)[0]
        if case == "image-404" and provider == "aivideomaker":
            response = create(front, "hosted-i2v", {"image": f"{missing.url}/gone.png", "duration": "5"})
            assert response.status_code == 200, response.text
            task_id = response.json()["taskId"]
        elif case == "image-404":
            task_id = submit(front, provider, "agnes", image=f"{missing.url}/gone.png")
        else:
            task_id = submit(front, provider, "hosted-bad" if provider == "aivideomaker" else "agnes-bad")
        result = finished(front, provider, task_id)
    finally:
        missing.close()
    assert result["status"] == "failed", result
    expected = {"image-404": "INPUT_FETCH_FAILED", "unknown-model": "UPSTREAM_ERROR"}[case]
    assert result["error"]["code"] == expected, result
    assert "hosted provider" in result["error"]["message"]
    if case == "image-404":
        assert missing.requests, "the provider itself fetched the image URL"
    after, entries = balance(front, front.key_id)
    assert sorted(e["reason"] for e in entries if e["taskId"] == task_id) == ["debit", "refund"]
    assert after == before


@pytest.mark.parametrize("provider", PROVIDERS)
def test_cancel_is_forwarded_to_the_provider_and_refunded(cluster: Cluster, provider: str) -> None:
    front, idle = cluster.front, cluster.idle
    before = balance(front, front.key_id)[0]
    idle_before = balance(idle, idle.key_id)[0]
    known = {t["id"] for t in upstream_tasks(idle)}
    task_id = submit(front, provider, "idle-t2v" if provider == "aivideomaker" else "idle-agnes")

    deadline = time.monotonic() + 60
    upstream_id = None
    while upstream_id is None and time.monotonic() < deadline:
        fresh = [t for t in upstream_tasks(idle) if t["id"] not in known]
        upstream_id = fresh[0]["id"] if fresh else None
        time.sleep(0.2)
    assert upstream_id, f"no provider task appeared\n{front.log()[-3000:]}"
    assert details(front, task_id).json()["status"] == "PROGRESS"  # the front's engine is polling it

    # The AIVideoMaker dialect cancels only queued tasks; DELETE /v1/videos stops a running one.
    assert httpx.delete(f"{front.url}/v1/videos/{task_id}", headers=bearer(front.key), timeout=30).status_code == 200

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        after, entries = balance(front, front.key_id)
        reasons = sorted(e["reason"] for e in entries if e["taskId"] == task_id)
        if reasons == ["debit", "refund"]:
            break
        time.sleep(0.3)
    assert reasons == ["debit", "refund"], front.log()[-3000:]
    assert after == before
    if provider == "aivideomaker":
        upstream = httpx.get(f"{idle.url}/api/v1/tasks/{upstream_id}", headers={"key": idle.key}, timeout=30).json()
        assert upstream["status"] == "CANCEL"
    else:  # DELETE cancels and removes the video
        gone = httpx.get(f"{idle.url}/v1/videos/{upstream_id}", headers=bearer(idle.key), timeout=30)
        assert gone.status_code == 404
    assert balance(idle, idle.key_id)[0] == idle_before  # the provider refunded its own task too
    assert f"cancel of {provider} task {upstream_id} accepted" in front.log()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_rate_limited_polls_wait_out_retry_after_and_succeed(cluster: Cluster, provider: str, tmp_path: Path) -> None:
    front = cluster.front
    task_id = submit(front, provider, "limited-t2v" if provider == "aivideomaker" else "gateway-agnes")
    result = finished(front, provider, task_id)
    assert result["status"] == "completed", result
    assert probe(download(result["video_url"], tmp_path / "v.mp4")).frame_count > 0
    assert "answered 429 while polling" in front.log()
    if provider == "aivideomaker":
        assert '/status HTTP/1.1" 429' in cluster.limited.log()  # the provider really refused polls
    else:
        upstream_id = next(i for i in cluster.gateway.limited)
        assert cluster.gateway.limited[upstream_id] == 2
        polls = [r for r in cluster.gateway.server.requests if r["path"] == f"/v1/videos/{upstream_id}"]
        gaps = [b["at"] - a["at"] for a, b in pairwise(polls)][:2]
        assert len(gaps) == 2 and all(gap >= 1.0 for gap in gaps)  # each 429's Retry-After: 1 was waited out


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_killed_front_worker_rerun_polls_the_same_provider_task(cluster: Cluster, provider: str) -> None:
    """SIGKILL the front's worker mid-poll: the re-run's create, under the same Idempotency-Key, gets the
    provider's first task back (one task at the provider), and cancelling it afterwards still works."""
    front, idle = cluster.front, cluster.idle
    known = {t["id"] for t in upstream_tasks(idle)}
    task_id = submit(front, provider, "idle-t2v" if provider == "aivideomaker" else "idle-agnes")
    created = f"task {task_id}: {provider} task "

    def created_lines() -> list[str]:
        return [line for line in front.log().splitlines() if created in line]

    deadline = time.monotonic() + 60
    while not created_lines() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert created_lines(), front.log()[-3000:]
    [worker_pid] = worker_pids(front)
    os.kill(worker_pid, signal.SIGKILL)

    deadline = time.monotonic() + 60  # lease (2 s) expires, the watchdog starts a worker, the task re-runs
    while len(created_lines()) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    first, second = (line.split(created)[1].split()[0] for line in created_lines()[:2])
    assert first == second
    assert [t["id"] for t in upstream_tasks(idle) if t["id"] not in known] == [first]

    assert httpx.delete(f"{front.url}/v1/videos/{task_id}", headers=bearer(front.key), timeout=30).status_code == 200
    deadline = time.monotonic() + 60
    while f"cancel of {provider} task {first} accepted" not in front.log() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert f"cancel of {provider} task {first} accepted" in front.log()


def test_a_rerun_after_a_crash_resumes_the_same_provider_task(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs of one task (as after a worker crash) make one provider task: the Idempotency-Key is the task id."""
    plain = cluster.plain
    monkeypatch.setenv(KEY_VARS["plain"], plain.key)
    for provider, model in (("aivideomaker", "t2v"), ("openai-videos", "agnes-video-v2.0")):
        engine = create_engine(
            "upstream",
            {
                "provider": provider,
                "base_url": plain.url,
                "model": model,
                "api_key_env": KEY_VARS["plain"],
                **FAST_POLLS,
            },
        )
        request = GenerationRequest(
            kind=Kind.TEXT_TO_VIDEO, prompt="a rerun", width=480, height=480, fps=24, duration=5, seed=3
        )
        before = len(upstream_tasks(plain))
        task_id = f"rerun-{uuid.uuid4().hex[:8]}"
        artifacts = []
        for attempt in (1, 2):
            ctx = FakeContext(tmp_path / provider / f"attempt-{attempt}")
            ctx.task_id = task_id
            artifacts.append(engine.run(request, ctx))
        assert len(upstream_tasks(plain)) == before + 1, provider
        assert all(probe(a.video_path).frame_count == 120 for a in artifacts)


def test_missing_key_variable_is_refused_before_any_credit(cluster: Cluster) -> None:
    front = cluster.front
    before = balance(front, front.key_id)[0]
    response = create(front, "hosted-nokey", {"prompt": "x", "aspectRatio": "16:9", "duration": "5"})
    assert response.status_code == 503
    assert response.json()["code"] == "UPSTREAM_NOT_CONFIGURED"
    assert "RF_TEST_UNSET_KEY" in response.json()["message"]
    unsupported = create(front, "hosted-t2v", {"prompt": "x", "aspectRatio": "16:9", "duration": "10"})
    assert unsupported.status_code == 400 and "5, 8 seconds" in unsupported.json()["message"]
    assert balance(front, front.key_id)[0] == before


def test_a_provider_quoting_the_key_never_shows_it_to_the_caller(cluster: Cluster) -> None:
    """The provider's refusal text is about the operator's account: the caller gets reelforge's words, the
    provider's status and code; the text (redacted) goes to the server log only."""
    front = cluster.front
    task_id = submit(front, "openai-videos", "agnes-echo")
    result = finished(front, "openai-videos", task_id)
    assert result["status"] == "failed" and result["error"]["code"] == "UPSTREAM_ERROR"
    assert result["error"]["message"] == "the hosted provider refused creating the video (HTTP 400, invalid_request)"


def test_the_provider_keys_never_leave_the_front_server(cluster: Cluster) -> None:
    """Last on purpose: after every flow above, no key is in the front's logs, database or answers."""
    front = cluster.front
    answers = [
        httpx.get(f"{front.url}/api/v1/tasks", headers={"key": front.key}, timeout=30).text,
        httpx.get(f"{front.url}/v1/videos", params={"limit": 100}, headers=bearer(front.key), timeout=30).text,
        httpx.get(f"{front.url}/api/v1/models", timeout=30).text,
    ]
    stored = b"".join(path.read_bytes() for path in front.data_dir.glob("reelforge.db*"))
    assert "hosted-t2v" in answers[0] and "agnes-echo" in answers[1] and b"hosted-t2v" in stored
    for key in cluster.upstream_keys:
        assert key not in front.log()
        assert key not in front.banner()
        assert key.encode() not in stored
        for answer in answers:
            assert key not in answer

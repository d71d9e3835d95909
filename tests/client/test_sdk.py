"""The Python SDK against the live server (and local stand-ins for failures): results and envelopes."""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path

import pytest

from reelforge.client import AsyncClient, Client, ClientError
from reelforge.client.core import WaitTimeout
from reelforge.media.probe import probe
from tests.conftest import ServerProcess, free_port
from tests.helpers import LocalHTTPServer

T2V = {"prompt": "a lighthouse in fog", "aspectRatio": "1:1", "duration": "5"}


def test_generate_creates_waits_with_progress_and_downloads(server: ServerProcess, tmp_path: Path) -> None:
    seen: list[dict] = []
    with Client(server.url, server.key) as client:
        task = client.generate("t2v", T2V, tmp_path / "clip.mp4", timeout=120, on_progress=seen.append)
        assert task["status"] == "COMPLETED"
        assert client.status(task["id"])["status"] == "COMPLETED"
        assert task["id"] in [t["id"] for t in client.list()]
    info = probe(tmp_path / "clip.mp4")
    assert (info.width, info.height) == (720, 720) and info.duration == pytest.approx(5, abs=0.05)
    progress = [state.get("progress", 0) for state in seen]
    assert progress == sorted(progress) and seen[-1]["status"] == "COMPLETED"
    assert not list(tmp_path.glob("*.partial"))


def test_async_client_generates_too(server: ServerProcess, tmp_path: Path) -> None:
    async def run() -> dict:
        async with AsyncClient(server.url, server.key) as client:
            return await client.generate("t2v", {**T2V, "aspectRatio": "9:16"}, tmp_path / "a.mp4", timeout=120)

    task = asyncio.run(run())
    assert task["status"] == "COMPLETED" and probe(tmp_path / "a.mp4").height == 1280


def test_create_with_an_idempotency_key_is_safe_to_repeat(server: ServerProcess) -> None:
    with Client(server.url, server.key) as client:
        first = client.create("t2v", T2V, idempotency_key="sdk-1")
        again = client.create("t2v", T2V, idempotency_key="sdk-1")
        assert first["taskId"] == again["taskId"]
        different = [client.create("t2v", T2V)["taskId"] for _ in range(2)]  # a fresh key each time
        assert len(set(different)) == 2


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda c: c.create("nope", T2V), "INVALID_MODEL"),
        (lambda c: c.create("t2v", {"prompt": "x"}), "INVALID_PAYLOAD"),
        (lambda c: c.get("ck-missing"), "TASK_NOT_FOUND"),
    ],
)
def test_failures_come_back_as_envelopes(server: ServerProcess, call, code: str) -> None:
    with Client(server.url, server.key, max_retries=0) as client, pytest.raises(ClientError) as caught:
        call(client)
    envelope = caught.value.envelope
    assert envelope.ok is False and envelope.errorCode == code and envelope.errorMessage
    assert set(envelope.to_dict()) == {"ok", "status", "taskId", "data", "errorCode", "errorMessage", "retryAfter"}


def test_auth_credits_rate_limit_and_network_envelopes(start_server) -> None:
    limited = start_server(workers=0, env={"REELFORGE_QUERY_RATE_LIMIT": "2/minute"})  # per IP: every list counts
    poor = limited.new_key(credits=1)
    with Client(limited.url, "rf_wrong", max_retries=0) as client, pytest.raises(ClientError) as caught:
        client.list()
    assert caught.value.envelope.errorCode == "AUTH_FAILED"
    with Client(limited.url, poor["key"], max_retries=0) as client:
        with pytest.raises(ClientError) as caught:
            client.create("t2v", T2V)
        assert caught.value.envelope.errorCode == "INSUFFICIENT_CREDITS"
        client.list()
        with pytest.raises(ClientError) as caught:
            client.list()
        assert caught.value.envelope.errorCode == "RATE_LIMITED" and caught.value.envelope.retryAfter >= 1
    with (
        Client(f"http://127.0.0.1:{free_port()}", "rf_x", max_retries=0) as client,
        pytest.raises(ClientError) as caught,
    ):
        client.list()
    assert caught.value.envelope.errorCode == "NETWORK_ERROR"


def test_reads_are_retried_creates_are_not(tmp_path: Path) -> None:
    answers = {"GET": iter([503, 500, 200]), "POST": iter([500, 200])}

    def respond(method: str, path: str, headers: dict, body: bytes):
        status = next(answers[method])
        payload = {"tasks": []} if status == 200 else {"status": "FAILED", "message": "busy"}
        return status, {"content-type": "application/json", "retry-after": "0"}, json.dumps(payload).encode()

    flaky = LocalHTTPServer(respond)
    try:
        with Client(flaky.url, "rf_x", max_retries=3) as client:
            client._sleep = lambda seconds: None
            assert client.list() == []
            with pytest.raises(ClientError) as caught:
                client.create("t2v", T2V)
    finally:
        flaky.close()
    assert caught.value.envelope.errorCode == "UNKNOWN_ERROR"
    assert [r["method"] for r in flaky.requests] == ["GET", "GET", "GET", "POST"]  # one create, never repeated
    assert flaky.requests[-1]["headers"]["idempotency-key"]


def test_wait_times_out_with_a_clear_error(start_server) -> None:
    idle = start_server(workers=0)
    with Client(idle.url, idle.key) as client:
        task_id = client.create("t2v", T2V)["taskId"]
        with pytest.raises(WaitTimeout) as caught:
            client.wait(task_id, timeout=0.5, poll_interval=0.1)
    assert caught.value.envelope.taskId == task_id and "SUBMITTED" in caught.value.envelope.errorMessage


def test_configuration_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIVIDEO_API_KEY", "rf_from_env")
    monkeypatch.setenv("AIVIDEO_TIMEOUT_MS", "1500")
    monkeypatch.setenv("AIVIDEO_MAX_RETRIES", "5")
    monkeypatch.setenv("REELFORGE_BASE_URL", "http://example.test:9000/")
    config = Client().config
    assert (config.api_key, config.timeout, config.max_retries, config.base_url) == (
        "rf_from_env",
        1.5,
        5,
        "http://example.test:9000",
    )
    monkeypatch.setenv("REELFORGE_API_KEY", "rf_preferred")
    assert Client().config.api_key == "rf_preferred"


def test_catalog_and_actions_reads(server: ServerProcess) -> None:
    with Client(server.url, server.key) as client:
        assert "t2v" in {model["name"] for model in client.models()}
        assert "ai.video.generate" in {action["name"] for action in client.actions()}
        assert client.action_schema("ai.video.query")["input"]["required"] == ["taskId"]

    async def run() -> list[dict]:
        async with AsyncClient(server.url, server.key) as client:
            return await client.models()

    assert [m["name"] for m in asyncio.run(run())] == [m["name"] for m in Client(server.url, server.key).models()]


@pytest.mark.parametrize("advice", ["header", "hint"])
def test_wait_never_polls_sooner_than_the_server_advises(advice: str) -> None:
    """A stand-in for a server that advises 400 ms between polls (reelforge's `domain.polling` figure, sent as
    `openai-poll-after-ms` or as a `poll_after_ms` field): the SDK's 10 ms backoff gives way to it."""
    polls = {"n": 0}

    def respond(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        if path.endswith("/status"):
            polls["n"] += 1
            state: dict = {"status": "PROCESSING" if polls["n"] < 3 else "COMPLETED", "progress": 10 * polls["n"]}
            extra = {"openai-poll-after-ms": "400"} if advice == "header" else {}
            if advice == "hint":
                state["poll_after_ms"] = 400
            return 200, {"content-type": "application/json", **extra}, json.dumps(state).encode()
        return 200, {"content-type": "application/json"}, json.dumps({"id": "ck1", "status": "COMPLETED"}).encode()

    stand_in = LocalHTTPServer(respond)
    try:
        with Client(stand_in.url, "rf_x") as client:
            assert client.wait("ck1", poll_interval=0.01, max_interval=0.02, timeout=30)["status"] == "COMPLETED"
    finally:
        stand_in.close()
    times = [r["at"] for r in stand_in.requests if r["path"].endswith("/status")]
    assert len(times) == 3
    assert min(later - earlier for earlier, later in itertools.pairwise(times)) >= 0.4

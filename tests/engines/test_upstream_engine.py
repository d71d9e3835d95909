"""The upstream engine's pieces: settings, validation, payloads, error mapping, retries and cancel over real HTTP.

The provider here is a scripted loopback HTTP peer; the engine against a real reelforge playing the
provider is tested in tests/api/test_upstream_api.py.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from itertools import pairwise
from pathlib import Path

import httpx
import pytest

from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.domain.request import GenerationRequest, ImageInput, Kind
from reelforge.engines.base import TaskCancelled, create_engine
from reelforge.engines.upstream.client import UpstreamClient
from reelforge.engines.upstream.errors import from_response, from_task, scrub
from reelforge.engines.upstream.settings import UpstreamSettings
from tests.engines.fake_context import FakeContext
from tests.helpers import AllMethodsHTTPServer, png_bytes

KEY_ENV = "RF_UNIT_UPSTREAM_KEY"
SECRET = "rf_unit_Secret_value_123"


def table(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "provider": "aivideomaker",
        "base_url": "http://127.0.0.1:9",
        "api_key_env": KEY_ENV,
        "model": "t2v",
        "poll_interval": 0.05,
        "max_poll_interval": 0.1,
    }
    base.update(overrides)
    return base


def t2v(**overrides: object) -> GenerationRequest:
    fields: dict[str, object] = {
        "kind": Kind.TEXT_TO_VIDEO,
        "prompt": "a lighthouse at dusk",
        "width": 1280,
        "height": 720,
        "fps": 24,
        "duration": 5,
        "seed": 7,
    }
    fields.update(overrides)
    return GenerationRequest(**fields)


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_ENV, SECRET)
    return SECRET


# ------------------------------------------------------------------ settings


def test_settings_refuse_a_key_in_the_table_and_never_echo_a_pasted_key() -> None:
    with pytest.raises(ValueError, match="environment variable"):
        UpstreamSettings.from_table(table(api_key="sk-live-abc"))
    with pytest.raises(ValueError) as caught:
        UpstreamSettings.from_table(table(api_key_env="sk-live-abc123"))
    assert "sk-live-abc123" not in str(caught.value)
    with pytest.raises(ValueError, match="provider"):
        UpstreamSettings.from_table(table(provider="replicate"))
    with pytest.raises(ValueError, match=r"colour\n  Extra inputs are not permitted"):
        UpstreamSettings.from_table(table(colour="red"))


def test_settings_normalise_the_base_url() -> None:
    assert (
        UpstreamSettings.from_table(table(base_url="https://apihub.example/v1/")).base_url == "https://apihub.example"
    )
    with pytest.raises(ValueError, match="credentials"):
        UpstreamSettings.from_table(table(base_url="https://user:pw@apihub.example"))
    with UpstreamClient(
        "https://gw.example/video-api", {}, secret=SECRET, timeout=1, max_retries=0, wait=lambda s: None
    ) as client:
        assert client.api_url("/v1/videos") == "https://gw.example/video-api/v1/videos"  # the prefix is kept
        assert client.absolute("/files/v.mp4") == "https://gw.example/files/v.mp4"  # a URL it handed out
        assert client.absolute("https://cdn.example/v.mp4") == "https://cdn.example/v.mp4"


def test_unset_key_variable_fails_validation_with_a_stable_code_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    engine = create_engine("upstream", table())
    with pytest.raises(ReelforgeError) as caught:
        engine.validate(t2v())
    assert caught.value.code == ErrorCode.UPSTREAM_NOT_CONFIGURED
    assert caught.value.http_status == 503
    assert KEY_ENV in caught.value.message


# ---------------------------------------------------------------- validation


def test_aivideomaker_validation_follows_the_contract(key: str) -> None:
    engine = create_engine("upstream", table())
    engine.validate(t2v())
    engine.validate(t2v(width=720, height=1280, duration=8))
    for request, words in [
        (t2v(duration=10), "5, 8 seconds"),
        (t2v(width=960, height=720), "16:9, 9:16, 1:1"),
        (t2v(kind=Kind.IMAGE_TO_VIDEO, images=[ImageInput(source="https://x.example/a.png")]), "text_to_video"),
        (t2v(prompt="x" * 2001), "2000"),
    ]:
        with pytest.raises(ReelforgeError, match=words) as caught:
            engine.validate(request)
        assert caught.value.code == ErrorCode.INVALID_PAYLOAD
    v3 = create_engine("upstream", table(model="t2v_v3"))
    v3.validate(t2v(duration=20))
    with pytest.raises(ValueError, match="kinds"):
        create_engine("upstream", table(model="t2v_nope"))
    assert create_engine("upstream", table(model="t2v_nope", kinds=["text_to_video"])).capabilities.kinds == {
        Kind.TEXT_TO_VIDEO
    }


def test_openai_validation_without_extensions_refuses_what_openai_cannot_take(key: str) -> None:
    images = [ImageInput(source="https://x.example/a.png"), ImageInput(source="https://x.example/b.png")]
    multi = t2v(kind=Kind.MULTI_IMAGE, images=images)
    extended = create_engine("upstream", table(provider="openai-videos", model="agnes-video-v2.0"))
    extended.validate(multi)
    plain = create_engine(
        "upstream",
        table(
            provider="openai-videos",
            model="sora-2",
            extensions=False,
            durations=[4, 8, 12],
            sizes=["1280x720", "720x1280"],
        ),
    )
    plain.validate(t2v(duration=4))
    for request, words in [
        (multi, "multi_image"),
        (t2v(duration=5), "4, 8, 12"),
        (t2v(duration=4, width=1920, height=1080), "1280x720"),
    ]:
        with pytest.raises(ReelforgeError, match=words):
            plain.validate(request)


# ------------------------------------------------------------------ payloads


def test_payloads_carry_the_contract_fields_and_uploads_as_data_uris(tmp_path: Path, key: str) -> None:
    upload = png_bytes(64, 36)
    ctx = FakeContext(tmp_path, inputs={"stored:uploads/a.png": upload})
    aivm = create_engine("upstream", table()).provider
    assert aivm.body(t2v(width=720, height=720), ctx) == {
        "prompt": "a lighthouse at dusk",
        "aspectRatio": "1:1",
        "duration": "5",
    }
    i2v = create_engine("upstream", table(model="i2v")).provider
    body = i2v.body(t2v(kind=Kind.IMAGE_TO_VIDEO, prompt=None, images=[ImageInput(source="stored:uploads/a.png")]), ctx)
    assert body == {"image": "data:image/png;base64," + base64.b64encode(upload).decode(), "duration": "5"}

    openai = create_engine("upstream", table(provider="openai-videos", model="agnes-video-v2.0")).provider
    keyframes = t2v(
        kind=Kind.KEYFRAMES,
        duration=121 / 24,
        images=[
            ImageInput(source="https://x.example/a.png", frame=0),
            ImageInput(source="https://x.example/b.png", frame=120),
        ],
    )
    assert openai.body(keyframes, ctx) == {
        "model": "agnes-video-v2.0",
        "prompt": "a lighthouse at dusk",
        "seconds": "5.041667",
        "size": "1280x720",
        "frame_rate": 24,
        "num_frames": 121,
        "seed": 7,
        "image": ["https://x.example/a.png", "https://x.example/b.png"],
        "mode": "keyframes",
    }
    sora = create_engine("upstream", table(provider="openai-videos", model="sora-2", extensions=False)).provider
    assert sora.body(
        t2v(kind=Kind.IMAGE_TO_VIDEO, duration=4, images=[ImageInput(source="https://x.example/a.png")]), ctx
    ) == {
        "model": "sora-2",
        "prompt": "a lighthouse at dusk",
        "seconds": "4",
        "size": "1280x720",
        "input_reference": {"image_url": "https://x.example/a.png"},
    }


# ------------------------------------------------------------- error mapping


def _response(status: int, body: object) -> httpx.Response:
    return httpx.Response(status, json=body, request=httpx.Request("GET", "http://provider.example/"))


def test_errors_map_to_stable_codes_and_never_carry_the_key(caplog: pytest.LogCaptureFixture) -> None:
    refused = from_response(_response(401, {"error": {"message": f"bad key {SECRET}"}}), SECRET, "creating the task")
    assert refused.code == ErrorCode.UPSTREAM_ERROR and SECRET not in refused.message
    broke = from_response(_response(402, {"status": "FAILED", "message": "Insufficient credits"}), SECRET, "creating")
    assert broke.code == ErrorCode.UPSTREAM_ERROR  # the provider's account, not the caller's balance
    fetch = from_response(
        _response(400, {"status": "FAILED", "code": "INPUT_FETCH_FAILED", "message": "404"}), SECRET, "creating"
    )
    assert fetch.code == ErrorCode.INPUT_FETCH_FAILED
    listing = "Unknown model 'x'; available models: acme-internal-a, acme-internal-b"
    model = from_response(_response(400, {"error": {"code": "INVALID_MODEL", "message": listing}}), SECRET, "x")
    # the provider's text is about the operator's upstream account (here its model list): logged, not passed on
    assert (
        model.code == ErrorCode.UPSTREAM_ERROR
        and model.message == "the hosted provider refused x (HTTP 400, INVALID_MODEL)"
    )
    assert "acme-internal" in caplog.text
    bad_input = from_response(_response(400, {"code": "INVALID_PAYLOAD", "message": "prompt too long"}), SECRET, "x")
    assert bad_input.code == ErrorCode.INVALID_PAYLOAD and "prompt too long" in bad_input.message  # the caller's
    busy = from_response(_response(503, {"error": {"message": "busy"}}), SECRET, "polling")
    assert busy.code == ErrorCode.UPSTREAM_UNAVAILABLE and busy.http_status == 503
    failed = from_task("ENGINE_ERROR", f"crashed with {SECRET}", SECRET)
    assert failed.code == ErrorCode.UPSTREAM_ERROR and SECRET not in failed.message and "[redacted]" in failed.message
    assert len(scrub("x" * 5000, SECRET)) <= 500


# --------------------------------------------------------- retries over HTTP


def test_client_waits_out_retry_after_then_succeeds() -> None:
    answers = iter(
        [
            (429, {"retry-after": "1"}, b"{}"),
            (429, {"retry-after": "1"}, b"{}"),
            (200, {"content-type": "application/json"}, b'{"status": "PROGRESS"}'),
        ]
    )
    peer = AllMethodsHTTPServer(lambda method, path, headers, body: next(answers))
    waits: list[float] = []

    def wait(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    try:
        with UpstreamClient(peer.url, {"key": SECRET}, secret=SECRET, timeout=5, max_retries=3, wait=wait) as client:
            assert client.json("GET", "/api/v1/tasks/x/status", action="polling")["status"] == "PROGRESS"
    finally:
        peer.close()
    assert len(peer.requests) == 3 and all(w >= 1.0 for w in waits)
    gaps = [b["at"] - a["at"] for a, b in pairwise(peer.requests)]
    assert all(gap >= 1.0 for gap in gaps)  # the Retry-After was honoured, not just read


def test_client_gives_up_after_bounded_retries_with_unavailable() -> None:
    peer = AllMethodsHTTPServer(lambda *_: (503, {"retry-after": "0"}, b'{"error": {"message": "busy"}}'))
    try:
        with (
            UpstreamClient(peer.url, {}, secret=SECRET, timeout=5, max_retries=2, wait=lambda s: None) as client,
            pytest.raises(ReelforgeError) as caught,
        ):
            client.json("GET", "/v1/videos/x", action="polling the video")
    finally:
        peer.close()
    assert caught.value.code == ErrorCode.UPSTREAM_UNAVAILABLE
    assert len(peer.requests) == 3  # one attempt and two retries


def test_key_goes_only_to_the_providers_origin(tmp_path: Path) -> None:
    cdn = AllMethodsHTTPServer(lambda *_: (200, {"content-type": "video/mp4"}, b"not really a video"))
    provider = AllMethodsHTTPServer(lambda method, path, headers, body: (302, {"location": f"{cdn.url}/v.mp4"}, b""))
    try:
        with UpstreamClient(
            provider.url,
            {"key": SECRET},
            secret=SECRET,
            timeout=5,
            max_retries=0,
            wait=lambda s: None,
            allow_private=True,
        ) as client:  # the CDN is on loopback too
            client.download("/content", tmp_path / "v.mp4", action="downloading", max_bytes=1000)
            with pytest.raises(ReelforgeError, match="larger than"):
                client.download(f"{cdn.url}/v.mp4", tmp_path / "w.mp4", action="downloading", max_bytes=5)
    finally:
        cdn.close()
        provider.close()
    assert provider.requests[0]["headers"].get("key") == SECRET
    assert all("key" not in request["headers"] for request in cdn.requests)
    assert (tmp_path / "v.mp4").read_bytes() == b"not really a video" and not (tmp_path / "w.mp4").exists()


def test_file_urls_leaving_the_providers_origin_pass_the_ssrf_guard(tmp_path: Path) -> None:
    """The operator vouched for the provider's base URL, not for wherever its answers point."""
    internal = AllMethodsHTTPServer(lambda *_: (200, {"content-type": "video/mp4"}, b"secret internal file"))
    provider = AllMethodsHTTPServer(lambda *_: (302, {"location": f"{internal.url}/admin"}, b""))
    try:
        with (
            UpstreamClient(
                provider.url, {"key": SECRET}, secret=SECRET, timeout=5, max_retries=0, wait=lambda s: None
            ) as client,
            pytest.raises(ReelforgeError) as caught,
        ):
            client.download("/content", tmp_path / "v.mp4", action="downloading", max_bytes=1000)
    finally:
        internal.close()
        provider.close()
    assert caught.value.code == ErrorCode.UPSTREAM_ERROR and "refused to follow" in caught.value.message
    assert internal.requests == [] and not (tmp_path / "v.mp4").exists()


# ---------------------------------------------------------- cancel while waiting


def test_cancel_during_a_long_retry_after_is_forwarded_at_once(tmp_path: Path, key: str) -> None:
    """A provider asking for 60 s of patience does not delay a cancel: the engine stops and forwards it."""

    def respond(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        if method == "POST":
            created = {"status": "SUBMITTED", "taskId": "up1"}
            return 200, {"content-type": "application/json"}, json.dumps(created).encode()
        if method == "PUT":
            return 200, {"content-type": "application/json"}, b'{"status": "CANCEL", "taskId": "up1"}'
        return 429, {"retry-after": "60"}, b'{"status": "FAILED", "message": "Too many requests"}'

    peer = AllMethodsHTTPServer(respond)
    engine = create_engine("upstream", table(base_url=peer.url))
    ctx = FakeContext(tmp_path / "work")
    ctx.task_id = "task-cancel-1"
    timer = threading.Timer(1.0, lambda: setattr(ctx, "cancel_after", 0))
    started = time.monotonic()
    timer.start()
    try:
        with pytest.raises(TaskCancelled):
            engine.run(t2v(), ctx)
    finally:
        timer.cancel()
        peer.close()
    assert time.monotonic() - started < 30
    methods = [(r["method"], r["path"]) for r in peer.requests]
    assert methods[0] == ("POST", "/api/v1/generate/t2v")
    assert peer.requests[0]["headers"]["idempotency-key"] == "task-cancel-1"
    assert ("GET", "/api/v1/tasks/up1/status") in methods
    assert methods[-1] == ("PUT", "/api/v1/tasks/up1/cancel")
    assert ctx.phases == ["generating"]


def test_a_worker_stopping_does_not_cancel_the_providers_task(tmp_path: Path, key: str) -> None:
    """Shutdown or a lost lease also reads as cancelled(); the re-run resumes the provider's task instead."""
    peer = AllMethodsHTTPServer(
        lambda method, *_: (
            (200, {"content-type": "application/json"}, b'{"taskId": "up2"}')
            if method == "POST"
            else (200, {"content-type": "application/json"}, b'{"status": "PROGRESS", "progress": 40}')
        )
    )
    engine = create_engine("upstream", table(base_url=peer.url))
    ctx = FakeContext(tmp_path / "work", cancel_after=4)
    ctx.cancel_was_requested = False  # what WorkerContext says when the stop is not a user's cancel
    try:
        with pytest.raises(TaskCancelled):
            engine.run(t2v(), ctx)
    finally:
        peer.close()
    assert "PUT" not in {r["method"] for r in peer.requests}
    assert ctx.reported and max(ctx.reported) == pytest.approx(36.0)  # 40 % of the provider's run -> 36 of 90

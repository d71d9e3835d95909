"""The AIVideoMaker v1 contract end to end: real HTTP against `reelforge serve`, workers and real MP4s.

The many contract cases (validation wording, error shapes, credits, idempotency, listing, cancel, rate
limits, OpenAPI) run in-process in `test_aivideomaker_contract.py`.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from reelforge.media.probe import probe
from tests.conftest import ServerProcess
from tests.helpers import LocalHTTPServer, create, data_uri, details, download, eventually, png_bytes


def finished(server: ServerProcess, task_id: str, statuses: set[str], timeout: float = 120) -> dict:
    """The task's details once its status is one of `statuses`."""

    def reached() -> dict | None:
        body = details(server, task_id).json()
        return body if body.get("status") in statuses else None

    return eventually(reached, timeout=timeout, what=f"{task_id} in {sorted(statuses)}")


T2V = {"prompt": "A cinematic sunset over a futuristic city skyline", "aspectRatio": "16:9", "duration": "5"}


def test_t2v_end_to_end_gives_a_real_mp4(server: ServerProcess, tmp_path: Path) -> None:
    response = create(server, "t2v", {**T2V, "aspectRatio": "9:16", "seed": 11})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "SUBMITTED"
    task_id = body["taskId"]
    assert body["responseUrl"] == f"{server.url}/api/v1/tasks/{task_id}"
    assert body["statusUrl"] == f"{server.url}/api/v1/tasks/{task_id}/status"
    assert body["cancelUrl"] == f"{server.url}/api/v1/tasks/{task_id}/cancel"

    done = finished(server, task_id, {"COMPLETED", "FAILED"})
    assert done["status"] == "COMPLETED", done
    assert set(done) >= {"id", "createdAt", "model", "input", "output", "status", "completedAt"}
    assert done["model"] == "t2v" and done["input"]["prompt"] == T2V["prompt"]
    assert done["createdAt"].endswith("Z") and done["completedAt"].endswith("Z")
    output = done["output"]
    assert (output["width"], output["height"], output["fps"], output["duration"]) == (720, 1280, 24, 5)

    video = download(output["videoUrl"], tmp_path / "out.mp4")
    info = probe(video)
    assert (info.codec, info.width, info.height) == ("h264", 720, 1280)
    assert info.fps == pytest.approx(24)
    assert info.duration == pytest.approx(5.0, abs=0.05)
    assert info.frame_count == 120
    thumb = httpx.get(output["thumbnailUrl"], timeout=30)
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"

    status = httpx.get(body["statusUrl"], headers={"key": server.key}, timeout=10)
    assert status.json()["status"] == "COMPLETED"


def test_i2v_from_a_data_uri_and_lv_from_a_url(server: ServerProcess, tmp_path: Path) -> None:
    portrait = png_bytes(300, 500)
    images = LocalHTTPServer(lambda *_: (200, {"content-type": "image/png"}, png_bytes(640, 360, seed=2)))
    try:
        i2v = create(server, "i2v", {"image": data_uri(portrait), "duration": "5", "prompt": None})
        assert i2v.status_code == 200, i2v.text
        lv = create(server, "lv", {"image": f"{images.url}/first.png", "prompt": ["a harbour", "a storm"]})
        assert lv.status_code == 200, lv.text
        i2v_done = finished(server, i2v.json()["taskId"], {"COMPLETED", "FAILED"})
        lv_done = finished(server, lv.json()["taskId"], {"COMPLETED", "FAILED"})
    finally:
        images.close()
    assert i2v_done["status"] == "COMPLETED", i2v_done
    assert i2v_done["input"]["image"].startswith("data:image/png;base64,<")  # echoed without the megabytes
    info = probe(download(i2v_done["output"]["videoUrl"], tmp_path / "i2v.mp4"))
    assert (info.width, info.height) == (720, 1280)  # portrait image -> 9:16
    assert info.duration == pytest.approx(5.0, abs=0.05)

    assert lv_done["status"] == "COMPLETED", lv_done
    info = probe(download(lv_done["output"]["videoUrl"], tmp_path / "lv.mp4"))
    assert (info.width, info.height) == (1280, 720)
    assert info.duration == pytest.approx(10.0, abs=0.05)  # 2 prompts x 5 s
    assert images.requests and images.requests[0]["path"] == "/first.png"


def test_auth_errors_never_echo_the_key_and_the_key_never_reaches_the_log(server: ServerProcess) -> None:
    missing = httpx.post(f"{server.url}/api/v1/generate/t2v", json=T2V)
    assert missing.status_code == 401 and missing.json()["code"] == "AUTH_FAILED"
    wrong = create(server, "t2v", T2V, key="rf_not-a-real-key-123")
    assert wrong.status_code == 401 and "rf_not-a-real-key-123" not in wrong.text
    assert server.key in server.banner()  # shown to the operator once at start...
    assert server.key not in server.log()  # ...and never written to the logs


def test_a_refused_create_over_http_leaves_no_upload_and_charges_nothing(server: ServerProcess) -> None:
    poor = server.new_key(credits=3)
    root = server.data_dir / "artifacts" / "uploads"

    def uploads() -> set[Path]:  # other tests' tasks keep theirs: compare before and after
        return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()

    before = uploads()
    response = create(server, "i2v", {"image": data_uri(png_bytes(64, 64)), "duration": "5"}, key=poor["key"])
    assert response.status_code == 402 and response.json()["status"] == "FAILED"
    assert uploads() == before
    assert server.services().keys.balance(poor["id"]) == 3


def test_cancel_of_a_completed_task_is_409(server: ServerProcess) -> None:
    task_id = create(server, "t2v", T2V).json()["taskId"]
    finished(server, task_id, {"COMPLETED"})
    response = httpx.put(f"{server.url}/api/v1/tasks/{task_id}/cancel", headers={"key": server.key})
    assert response.status_code == 409
    assert response.json()["status"] == "FAILED" and response.json()["code"] == "INVALID_STATE"
    assert "succeeded" in response.json()["message"]


def test_signed_links_refuse_tampering_and_expire(start_server, tmp_path: Path) -> None:
    short = start_server(workers=1, env={"REELFORGE_DOWNLOAD_URL_TTL": "2"})
    task_id = create(short, "t2v", {**T2V, "aspectRatio": "1:1"}).json()["taskId"]
    url = finished(short, task_id, {"COMPLETED"})["output"]["videoUrl"]
    assert httpx.get(url).status_code == 200
    assert httpx.get(url.replace("video.mp4", "thumbnail.jpg")).status_code == 403

    def expired() -> httpx.Response | None:
        response = httpx.get(url)
        return response if response.status_code == 410 else None

    assert eventually(expired, timeout=10, what="the link expires").json()["error"]["code"] == "LINK_EXPIRED"
    fresh = details(short, task_id).json()["output"]["videoUrl"]
    assert httpx.get(fresh).status_code == 200


def test_models_and_health(server: ServerProcess) -> None:
    assert httpx.get(f"{server.url}/healthz").json()["status"] == "ok"
    models = {m["name"]: m for m in httpx.get(f"{server.url}/api/v1/models").json()["models"]}
    assert set(models) >= {"t2v", "i2v", "lv", "t2v_v3", "i2v_v3"}
    assert models["t2v"]["engine"] == "draft"
    assert "text_to_video" in models["t2v"]["capabilities"]["kinds"]
    assert models["t2v_v3"]["durations"] == [5, 10, 15, 20]


def test_oversized_bodies_and_framework_errors_keep_the_contract_shape(server: ServerProcess) -> None:
    huge = httpx.post(
        f"{server.url}/api/v1/generate/t2v",
        headers={"key": server.key},
        content=b'{"prompt": "' + b"x" * (17 * 1024 * 1024) + b'"}',
    )
    assert huge.status_code == 413
    assert huge.json()["status"] == "FAILED" and huge.json()["code"] == "PAYLOAD_TOO_LARGE"
    wrong_method = httpx.delete(f"{server.url}/api/v1/tasks/abc/cancel", headers={"key": server.key})
    assert wrong_method.status_code == 405 and wrong_method.json()["code"] == "METHOD_NOT_ALLOWED"
    no_route = httpx.get(f"{server.url}/api/v1/nothing-here", headers={"key": server.key})
    assert no_route.status_code == 404 and no_route.json()["status"] == "FAILED"

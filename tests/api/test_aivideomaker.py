"""The AIVideoMaker v1 contract over real HTTP against `reelforge serve`, with real MP4s."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from reelforge.media.probe import probe
from tests.conftest import ServerProcess
from tests.helpers import (
    LocalHTTPServer,
    balance,
    create,
    data_uri,
    details,
    download,
    new_key,
    png_bytes,
    wait_for,
)

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

    done = wait_for(server, task_id, {"COMPLETED", "FAILED"})
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
        i2v_done = wait_for(server, i2v.json()["taskId"], {"COMPLETED", "FAILED"})
        lv_done = wait_for(server, lv.json()["taskId"], {"COMPLETED", "FAILED"})
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


@pytest.mark.parametrize(
    ("model", "body", "field"),
    [
        ("t2v", {"aspectRatio": "16:9", "duration": "5"}, "/prompt"),
        ("t2v", {"prompt": "x", "aspectRatio": "4:3", "duration": "5"}, "/aspectRatio"),
        ("t2v", {"prompt": "x", "aspectRatio": "16:9", "duration": "10"}, "/duration"),
        ("t2v", {"prompt": "x", "aspectRatio": "16:9"}, "/duration"),
        ("t2v_v3", {"prompt": "x", "aspectRatio": "16:9", "duration": "8"}, "/duration"),
        ("i2v", {"duration": "5"}, "/image"),
        ("i2v", {"image": "ftp://example.com/a.png", "duration": "5"}, "/image"),
        ("i2v", {"image": "data:image/png;base64,!!!", "duration": "5"}, "/image"),
        ("i2v", {"image": "data:text/plain;base64,aGVsbG8=", "duration": "5"}, "/image"),
        ("i2v", {"image": "data:image/png;base64,aGVsbG8=", "duration": "5"}, "/image"),
        ("i2v_v3", {"image": data_uri(png_bytes(32, 32)), "duration": "8"}, "/duration"),
        ("lv", {"image": data_uri(png_bytes(32, 32)), "prompt": "not a list"}, "/prompt"),
        ("lv", {"image": data_uri(png_bytes(32, 32)), "prompt": ["a"] * 7}, "/prompt"),
        ("lv", {"image": data_uri(png_bytes(32, 32)), "prompt": ["a", ""]}, "/prompt/1"),
    ],
)
def test_invalid_payloads_are_400_with_the_field(server: ServerProcess, model: str, body: dict, field: str) -> None:
    response = create(server, model, body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["status"] == "FAILED" and error["code"] == "INVALID_PAYLOAD"
    assert error["field"] == field
    assert error["message"]


def test_model_and_body_errors(server: ServerProcess) -> None:
    unknown = create(server, "sora-9", T2V)
    assert unknown.status_code == 400 and unknown.json()["code"] == "INVALID_MODEL"
    assert "t2v" in unknown.json()["message"]  # says what exists
    broken = httpx.post(
        f"{server.url}/api/v1/generate/t2v",
        content=b"{not json",
        headers={"key": server.key, "content-type": "application/json"},
    )
    assert broken.status_code == 400 and broken.json()["status"] == "FAILED"
    private_hook = create(server, "t2v", T2V, headers={"webhookUrl": "ftp://nowhere"})
    assert private_hook.status_code == 400 and private_hook.json()["field"] == "webhookUrl"


def test_auth_errors_are_401_and_never_echo_the_key(server: ServerProcess) -> None:
    missing = httpx.post(f"{server.url}/api/v1/generate/t2v", json=T2V)
    assert missing.status_code == 401 and missing.json() == {
        "status": "FAILED",
        "message": missing.json()["message"],
        "code": "AUTH_FAILED",
    }
    wrong = create(server, "t2v", T2V, key="rf_not-a-real-key-123")
    assert wrong.status_code == 401 and "rf_not-a-real-key-123" not in wrong.text
    listing = httpx.get(f"{server.url}/api/v1/tasks", headers={"key": "nope"})
    assert listing.status_code == 401
    assert server.key in server.banner()  # shown to the operator once at start...
    assert server.key not in server.log()  # ...and never written to the logs


def test_insufficient_credits_is_402_and_charges_nothing(server: ServerProcess) -> None:
    poor = new_key(server, credits=7)
    response = create(server, "t2v", {**T2V, "duration": "8"}, key=poor["key"])
    assert response.status_code == 402
    assert response.json() == {"status": "FAILED", "message": "Insufficient credits", "code": "INSUFFICIENT_CREDITS"}
    assert balance(server, poor["id"])[0] == 7
    listing = httpx.get(f"{server.url}/api/v1/tasks", headers={"key": poor["key"]}).json()
    assert listing == {"tasks": []}


def test_credit_costs_follow_the_contract(server: ServerProcess) -> None:
    key = new_key(server, credits=1000)
    image = data_uri(png_bytes(64, 64))
    cases = [
        ("t2v", {**T2V, "duration": "8"}, 8),
        ("i2v", {"image": image, "duration": "5"}, 5),
        ("lv", {"image": image, "prompt": ["a", "b", "c"]}, 3 * 5 * 15),
        ("t2v_v3", {**T2V, "duration": "10"}, 100),
        ("i2v_v3", {"image": image, "duration": "5"}, 50),
    ]
    spent = 0
    for model, body, cost in cases:
        response = create(server, model, body, key=key["key"])
        assert response.status_code == 200, response.text
        httpx.put(response.json()["cancelUrl"], headers={"key": key["key"]})  # keep the worker free
        spent += cost
        _, ledger = balance(server, key["id"])
        debits = [e for e in ledger if e["reason"] == "debit" and e["taskId"] == response.json()["taskId"]]
        assert [d["amount"] for d in debits] == [-cost], model


def test_list_is_newest_first_and_only_the_callers(server: ServerProcess) -> None:
    alice, bob = new_key(server, 100, "alice"), new_key(server, 100, "bob")
    ids = []
    for prompt in ("one", "two", "three"):
        response = create(server, "t2v", {**T2V, "prompt": prompt}, key=alice["key"])
        ids.append(response.json()["taskId"])
    bob_task = create(server, "t2v", T2V, key=bob["key"]).json()["taskId"]
    for task_id in [*ids, bob_task]:
        httpx.put(
            f"{server.url}/api/v1/tasks/{task_id}/cancel",
            headers={"key": alice["key"] if task_id in ids else bob["key"]},
        )
    listing = httpx.get(f"{server.url}/api/v1/tasks", headers={"key": alice["key"]}).json()
    assert [t["id"] for t in listing["tasks"]] == ids[::-1]
    assert listing["tasks"][0]["input"]["prompt"] == "three"
    # another key's task is a 404, on every endpoint
    for method, path in [("GET", ""), ("GET", "/status"), ("PUT", "/cancel")]:
        response = httpx.request(method, f"{server.url}/api/v1/tasks/{bob_task}{path}", headers={"key": alice["key"]})
        assert response.status_code == 404 and response.json()["code"] == "TASK_NOT_FOUND"
    assert details(server, "ck-does-not-exist").status_code == 404


def test_cancel_submitted_gives_cancel_and_refund_and_409_afterwards(start_server) -> None:
    idle = start_server(workers=0)  # nothing picks tasks up: they stay SUBMITTED
    key = new_key(idle, credits=50)
    task_id = create(idle, "t2v", T2V, key=key["key"]).json()["taskId"]
    assert balance(idle, key["id"])[0] == 45
    assert (
        httpx.get(f"{idle.url}/api/v1/tasks/{task_id}/status", headers={"key": key["key"]}).json()["status"]
        == "SUBMITTED"
    )
    cancel = httpx.put(f"{idle.url}/api/v1/tasks/{task_id}/cancel", headers={"key": key["key"]})
    assert cancel.status_code == 200 and cancel.json()["status"] == "CANCEL"
    assert details(idle, task_id, key["key"]).json()["status"] == "CANCEL"
    again = httpx.put(f"{idle.url}/api/v1/tasks/{task_id}/cancel", headers={"key": key["key"]})
    assert again.status_code == 409 and again.json()["code"] == "INVALID_STATE"
    total, ledger = balance(idle, key["id"])
    assert total == 50 == sum(e["amount"] for e in ledger)
    assert sorted(e["reason"] for e in ledger if e["taskId"] == task_id) == ["debit", "refund"]


def test_cancel_of_a_completed_task_is_409(server: ServerProcess) -> None:
    task_id = create(server, "t2v", T2V).json()["taskId"]
    wait_for(server, task_id, {"COMPLETED"})
    response = httpx.put(f"{server.url}/api/v1/tasks/{task_id}/cancel", headers={"key": server.key})
    assert response.status_code == 409
    assert response.json()["status"] == "FAILED" and response.json()["code"] == "INVALID_STATE"
    assert "succeeded" in response.json()["message"]


def test_query_endpoints_answer_429_with_retry_after(start_server) -> None:
    limited = start_server(workers=0, env={"REELFORGE_QUERY_RATE_LIMIT": "5/minute"})
    task_id = create(limited, "t2v", T2V).json()["taskId"]
    codes = [
        httpx.get(f"{limited.url}/api/v1/tasks/{task_id}/status", headers={"key": limited.key}).status_code
        for _ in range(5)
    ]
    assert codes == [200] * 5
    blocked = httpx.get(f"{limited.url}/api/v1/tasks", headers={"key": limited.key})
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "RATE_LIMITED" and blocked.json()["status"] == "FAILED"
    assert 1 <= int(blocked.headers["Retry-After"]) <= 60
    # creating is not a query endpoint: still allowed
    assert create(limited, "t2v", T2V).status_code == 200


def test_signed_links_refuse_tampering_and_expire(start_server, tmp_path: Path) -> None:
    short = start_server(workers=1, env={"REELFORGE_DOWNLOAD_URL_TTL": "2"})
    task_id = create(short, "t2v", {**T2V, "aspectRatio": "1:1"}).json()["taskId"]
    url = wait_for(short, task_id, {"COMPLETED"})["output"]["videoUrl"]
    assert httpx.get(url).status_code == 200
    assert httpx.get(url.replace("video.mp4", "thumbnail.jpg")).status_code == 403
    import time

    time.sleep(3)
    expired = httpx.get(url)
    assert expired.status_code == 410 and expired.json()["error"]["code"] == "LINK_EXPIRED"
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


def test_input_echoes_only_the_contract_fields_and_a_blank_i2v_prompt_is_null(server: ServerProcess) -> None:
    response = create(
        server,
        "i2v",
        {"image": data_uri(png_bytes(64, 64)), "duration": "5", "prompt": "", "junk": "x" * 1000, "seed": 5},
    )
    assert response.status_code == 200, response.text
    task_id = response.json()["taskId"]
    httpx.put(f"{server.url}/api/v1/tasks/{task_id}/cancel", headers={"key": server.key})
    echoed = details(server, task_id).json()["input"]
    assert set(echoed) == {"image", "duration", "prompt", "seed"}


def test_idempotency_key_returns_the_same_task_and_charges_once(start_server) -> None:
    idle = start_server(workers=0)
    key = new_key(idle, credits=50)
    headers = {"Idempotency-Key": "order-42"}
    first = create(idle, "t2v", T2V, key=key["key"], headers=headers)
    again = create(idle, "t2v", T2V, key=key["key"], headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json()["taskId"] == again.json()["taskId"]
    assert balance(idle, key["id"])[0] == 45  # charged once
    other_body = create(idle, "t2v", {**T2V, "prompt": "something else"}, key=key["key"], headers=headers)
    assert other_body.status_code == 409 and other_body.json()["code"] == "IDEMPOTENCY_CONFLICT"
    # the key is per API key: another caller using the same string gets its own task
    stranger = new_key(idle, credits=50)
    theirs = create(idle, "t2v", T2V, key=stranger["key"], headers=headers)
    assert theirs.json()["taskId"] != first.json()["taskId"]
    # a data URI repeated under one key is stored once
    body = {"image": data_uri(png_bytes(64, 64)), "duration": "5"}
    ids = {
        create(idle, "i2v", body, key=key["key"], headers={"Idempotency-Key": "img"}).json()["taskId"] for _ in range(2)
    }
    assert len(ids) == 1
    assert len(list((idle.data_dir / "artifacts" / "uploads").iterdir())) == 1

"""The AVS public video API end to end, against a real `reelforge serve`: tokens (HTTP and CLI), JSON and
prompt jobs rendered to real MP4s, phases, costs and refunds, signed webhooks with a retry.

The contract cases (validation, refusals that keep no upload, idempotency, OpenAPI) run in-process in
`test_avs_contract.py`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path

import httpx
import pytest

from reelforge.media.probe import probe
from tests.conftest import ServerProcess, run_cli
from tests.helpers import (
    LocalHTTPServer,
    balance,
    download,
    eventually,
    make_video,
    make_wav,
    new_key,
    png_bytes,
)


def issue_token(server: ServerProcess, api_key: str, kind: str = "public_api") -> dict:
    response = httpx.post(
        f"{server.url}/api/v1/tokens", headers={"key": api_key}, json={"name": f"{kind} token", "kind": kind}
    )
    assert response.status_code == 201, response.text
    return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wait_job(server: ServerProcess, job_id: str, token: str, timeout: float = 180) -> tuple[dict, list[str]]:
    """Poll until the job ends; also return every phase seen on the way, in order."""
    phases: list[str] = []

    def ended() -> dict | None:
        job = httpx.get(f"{server.url}/api/v1/jobs/{job_id}", headers=bearer(token)).json()
        if not phases or phases[-1] != job["phase"]:
            phases.append(job["phase"])
        return job if job["status"] in ("completed", "failed", "cancelled") else None

    try:
        job = eventually(ended, timeout=timeout, interval=0.05, what=f"job {job_id} ends")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{server.log()[-3000:]}") from None
    return job, phases


@pytest.fixture
def account(server: ServerProcess) -> dict:
    key = new_key(server, credits=200, name="avs")
    token = issue_token(server, key["key"])
    return {"key": key, "token": token["token"], "tokenId": token["tokenId"]}


@pytest.fixture
def media(tmp_path: Path) -> dict[str, Path]:
    image = tmp_path / "still.png"
    image.write_bytes(png_bytes(401, 301))  # odd size on purpose
    return {
        "red": make_video(tmp_path / "red.mp4", 2.0, "red"),
        "blue_silent": make_video(tmp_path / "blue.mp4", 2.0, "blue", audio=False),
        "image": image,
        "wav": make_wav(tmp_path / "music.wav", 3.0),
    }


def test_token_lifecycle_over_http_and_cli(server: ServerProcess) -> None:
    key = new_key(server, credits=10)
    created = issue_token(server, key["key"])
    assert created["token"].startswith(f"avs.{created['tokenId']}.")
    job_url = f"{server.url}/api/v1/jobs/nonexistent"
    assert httpx.get(job_url, headers=bearer(created["token"])).status_code == 404  # authenticated

    listed = httpx.get(f"{server.url}/api/v1/tokens", headers={"key": key["key"]}).json()["tokens"]
    assert [t["tokenId"] for t in listed] == [created["tokenId"]]
    assert created["token"] not in json.dumps(listed)

    rotated = httpx.post(f"{server.url}/api/v1/tokens/{created['tokenId']}/rotate", headers={"key": key["key"]}).json()
    assert rotated["tokenId"] == created["tokenId"] and rotated["token"] != created["token"]
    assert httpx.get(job_url, headers=bearer(created["token"])).status_code == 401
    assert httpx.get(job_url, headers=bearer(rotated["token"])).status_code == 404

    revoked = httpx.delete(f"{server.url}/api/v1/tokens/{created['tokenId']}", headers={"key": key["key"]})
    assert revoked.json()["active"] is False
    assert httpx.get(job_url, headers=bearer(rotated["token"])).status_code == 401

    cli_token = issue_token(server, key["key"], kind="cli")
    refused = httpx.get(job_url, headers=bearer(cli_token["token"]))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "FORBIDDEN"
    assert httpx.get(job_url, headers=bearer(key["key"])).status_code == 401  # an API key is not a token
    assert httpx.get(job_url).status_code == 401

    env = {k: v for k, v in server.env.items() if k.startswith("REELFORGE_")}
    made = json.loads(run_cli(server.data_dir, "tokens", "create", key["id"], "--json", env=env).stdout)
    assert httpx.get(job_url, headers=bearer(made["token"])).status_code == 404
    new = json.loads(run_cli(server.data_dir, "tokens", "rotate", made["tokenId"], "--json", env=env).stdout)
    assert httpx.get(job_url, headers=bearer(made["token"])).status_code == 401
    run_cli(server.data_dir, "tokens", "revoke", made["tokenId"], env=env)
    assert httpx.get(job_url, headers=bearer(new["token"])).status_code == 401
    listing = json.loads(run_cli(server.data_dir, "tokens", "list", "--key-id", key["id"], "--json", env=env).stdout)
    assert {t["tokenId"] for t in listing} == {created["tokenId"], cli_token["tokenId"], made["tokenId"]}


def test_from_json_with_uploads_renders_and_charges_render_plus_uploads(
    server: ServerProcess, account: dict, media: dict, tmp_path: Path
) -> None:
    request = {
        "template": {
            "version": "1",
            "name": "Launch teaser",
            "blocks": [
                {"type": "video", "start": 0, "duration": 2, "source": {"uploadName": "red.mp4"}},
                {"type": "image", "start": 2, "duration": 2, "source": {"uploadName": "still.png"}},
                {"type": "text", "start": 0, "duration": 4, "text": "Now shipping"},
                {"type": "audio", "start": 0, "duration": 3, "source": {"uploadName": "music.wav"}},
            ],
        },
        "output": {"aspectRatio": "9:16", "quality": "draft"},
    }
    files = [("files", (p.name, p.read_bytes())) for p in (media["red"], media["image"], media["wav"])]
    response = httpx.post(
        f"{server.url}/api/v1/videos/from-json",
        headers=bearer(account["token"]),
        data={"request": json.dumps(request)},
        files=files,
        timeout=60,
    )
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["mode"] == "json" and job["status"] == "queued" and job["phase"] == "queued"

    done, phases = wait_job(server, job["jobId"], account["token"])
    assert done["status"] == "completed", done
    assert phases[-1] == "completed" and "rendering" in phases
    assert phases.index("rendering") > (phases.index("preparing_assets") if "preparing_assets" in phases else -1)
    assert done["result"]["expiresAt"].endswith("Z")
    info = probe(download(done["result"]["downloadUrl"], tmp_path / "out.mp4"))
    assert info.duration == pytest.approx(4.0, abs=0.1)
    assert info.width < info.height and info.has_audio

    _, ledger = balance(server, account["key"]["id"])
    assert [e["amount"] for e in ledger if e["taskId"] == job["jobId"]] == [-(5 + 5 + 0 + 3)]


def test_from_json_with_urls_and_a_failing_asset_is_refunded(server: ServerProcess, account: dict, media: dict) -> None:
    video = media["blue_silent"].read_bytes()
    peer = LocalHTTPServer(
        lambda m, path, h, b: (200, {"content-type": "video/mp4"}, video) if path == "/ok.mp4" else (404, {}, b"")
    )
    try:
        good = {
            "template": {
                "version": "1",
                "blocks": [{"type": "video", "start": 0, "duration": 2, "source": {"url": f"{peer.url}/ok.mp4"}}],
            },
            "output": {"aspectRatio": "1:1", "quality": "draft"},
        }
        bad = {
            "template": {
                "version": "1",
                "blocks": [{"type": "video", "start": 0, "duration": 2, "source": {"url": f"{peer.url}/gone.mp4"}}],
            }
        }
        ok_job = httpx.post(f"{server.url}/api/v1/videos/from-json", headers=bearer(account["token"]), json=good).json()
        bad_job = httpx.post(f"{server.url}/api/v1/videos/from-json", headers=bearer(account["token"]), json=bad).json()
        ok_done, _ = wait_job(server, ok_job["jobId"], account["token"])
        bad_done, _ = wait_job(server, bad_job["jobId"], account["token"])
    finally:
        peer.close()
    assert ok_done["status"] == "completed", ok_done
    assert bad_done["status"] == "failed" and bad_done["phase"] == "failed"
    assert bad_done["error"]["code"] == "INPUT_FETCH_FAILED" and "404" in bad_done["error"]["message"]
    _, ledger = balance(server, account["key"]["id"])
    assert sorted(e["amount"] for e in ledger if e["taskId"] == ok_job["jobId"]) == [-10]  # render 5 + video 5
    assert sorted(e["amount"] for e in ledger if e["taskId"] == bad_job["jobId"]) == [-10, 10]


def test_from_prompt_without_assets_generates_clips(server: ServerProcess, account: dict, tmp_path: Path) -> None:
    body = {
        "prompt": "A 6 second teaser. Waves crash on rocks. Gulls circle overhead.",
        "output": {"aspectRatio": "16:9", "quality": "draft"},
    }
    response = httpx.post(f"{server.url}/api/v1/videos/from-prompt", headers=bearer(account["token"]), json=body)
    assert response.status_code == 202, response.text
    done, phases = wait_job(server, response.json()["jobId"], account["token"])
    assert done["status"] == "completed" and done["mode"] == "prompt", done
    assert "generating" in phases and "rendering" in phases
    assert phases.index("generating") < phases.index("rendering")
    info = probe(download(done["result"]["downloadUrl"], tmp_path / "prompt.mp4"))
    assert info.duration == pytest.approx(6.0, abs=0.1) and info.width > info.height
    _, ledger = balance(server, account["key"]["id"])
    assert [e["amount"] for e in ledger if e["taskId"] == done["jobId"]] == [-(3 + 5)]


def test_from_prompt_with_assets_and_a_signed_webhook(server: ServerProcess, account: dict, media: dict) -> None:
    answers = iter([500])
    receiver = LocalHTTPServer(lambda *_: (next(answers, 200), {}, b"ok"))
    image = media["image"].read_bytes()
    images = LocalHTTPServer(lambda *_: (200, {"content-type": "image/png"}, image))
    secret = "whsec_test_secret"
    try:
        body = {
            "prompt": "An 8 second product teaser using the footage",
            "assetUrls": [f"{images.url}/product.png"],
            "output": {"aspectRatio": "1:1", "quality": "draft"},
            "webhook": {"url": f"{receiver.url}/avs", "secret": secret},
        }
        response = httpx.post(
            f"{server.url}/api/v1/videos/from-prompt",
            headers=bearer(account["token"]),
            data={"request": json.dumps(body)},
            files=[
                ("files", ("clip.mp4", media["red"].read_bytes())),
                ("files", ("music.wav", media["wav"].read_bytes())),
            ],
        )
        assert response.status_code == 202, response.text
        done, _ = wait_job(server, response.json()["jobId"], account["token"])
        eventually(lambda: len(receiver.requests) >= 2, timeout=20, what="the webhook's retry")
    finally:
        receiver.close()
        images.close()
    assert done["status"] == "completed", done
    _, ledger = balance(server, account["key"]["id"])
    assert [e["amount"] for e in ledger if e["taskId"] == done["jobId"]] == [-(3 + 5 + 0 + 5 + 3)]

    assert len(receiver.requests) == 2  # one terminal event: refused once, delivered on the retry
    first, second = receiver.requests
    assert first["body"] == second["body"]
    for delivery in receiver.requests:
        expected = "sha256=" + hmac.new(secret.encode(), delivery["body"], hashlib.sha256).hexdigest()
        assert delivery["headers"]["x-avs-signature"] == expected
        assert delivery["headers"]["x-avs-event"] == "job.completed"
        assert delivery["headers"]["x-avs-timestamp"]
    payload = json.loads(second["body"])
    assert payload["jobId"] == done["jobId"] and payload["result"]["downloadUrl"]


def test_avs_webhook_outlives_a_receiver_outage_of_minutes(server: ServerProcess, account: dict) -> None:
    """The three AVS retries are spread over minutes: a receiver down for 6 s at the tests' 0.3 s backoff base
    (40 s at the default 2 s base) still gets the terminal event; the old doubling spent them all in about 2 s."""
    outage_until: list[float] = []

    def respond(*_: object) -> tuple[int, dict[str, str], bytes]:
        if not outage_until:
            outage_until.append(time.monotonic() + 6.0)
        return (503 if time.monotonic() < outage_until[0] else 200), {}, b"down" if len(outage_until) else b"ok"

    receiver = LocalHTTPServer(respond)
    try:
        body = {
            "prompt": "A 2 second teaser. Waves crash on rocks.",
            "output": {"aspectRatio": "16:9", "quality": "draft"},
            "webhook": {"url": f"{receiver.url}/avs", "secret": "whsec_outage"},
        }
        response = httpx.post(f"{server.url}/api/v1/videos/from-prompt", headers=bearer(account["token"]), json=body)
        assert response.status_code == 202, response.text
        done, _ = wait_job(server, response.json()["jobId"], account["token"])
        delivered = lambda: any(r["at"] >= outage_until[0] for r in receiver.requests) if outage_until else False  # noqa: E731
        eventually(delivered, timeout=45, what="the terminal event delivered after the outage")
    finally:
        receiver.close()
    assert done["status"] == "completed", done
    assert all(r["headers"]["x-avs-event"] == "job.completed" for r in receiver.requests)
    assert all(r["body"] == receiver.requests[0]["body"] for r in receiver.requests)
    assert len(receiver.requests) <= 4  # the first delivery and at most three retries

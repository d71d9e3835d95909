"""AVS screen recordings (`.vidova`) and extension-less asset URLs (issue 13, point 6 / deliverable 3).

In-process: a `.vidova` is accepted when ffmpeg can read it (a 400 naming the part when not), priced 0 as an
upload and 5 for its analysis in prompt mode; an `assetUrls` entry without an extension is typed by its
bytes. End to end: a prompt job cuts its highlights from the recording's active segment.
"""

from __future__ import annotations

import json

import av
import httpx
import numpy as np
import pytest

from reelforge.media.probe import probe
from tests.api.test_avs_contract import Avs, refused, video_template
from tests.asgi import InProcessApp
from tests.conftest import ServerProcess
from tests.helpers import LocalHTTPServer, download, eventually, make_video, new_key
from tests.media.test_sniff_screen import screen_recording

PROMPT = {"prompt": "A 10 second product demo.", "output": {"aspectRatio": "16:9", "quality": "draft"}}


@pytest.fixture
def recording(tmp_path) -> bytes:  # type: ignore[no-untyped-def]
    return screen_recording(tmp_path / "rec.mp4").read_bytes()


def ledger_cost(avs: Avs, job_id: str) -> int:
    from reelforge.accounts import ledger

    with avs.api.services.db.read() as conn:
        rows = ledger.entries(conn, avs.api.key_id(avs.key))
    return -sum(r["amount"] for r in rows if r["task_id"] == job_id)


def test_a_vidova_that_ffmpeg_cannot_read_is_400_and_costs_nothing(api: InProcessApp) -> None:
    avs = Avs(api)
    for mode, body in (("from-json", {"template": video_template("rec.vidova")}), ("from-prompt", PROMPT)):
        response = avs.post(mode, body, files=[("rec.vidova", b"VIDOVA\x00 a bundle ffmpeg cannot open" * 10)])
        error = refused(avs, response, 400, "INVALID_PAYLOAD", "files/0")
        assert "rec.vidova is not a screen recording reelforge can read" in error["message"]
    assert avs.balance() == 100 and api.executor.dispatched == []


def test_a_vidova_is_priced_as_an_upload_and_analysed_in_prompt_mode(api: InProcessApp, recording: bytes) -> None:
    avs = Avs(api)
    json_job = avs.post("from-json", {"template": video_template("rec.vidova")}, files=[("rec.vidova", recording)])
    assert json_job.status_code == 202, json_job.text
    assert ledger_cost(avs, json_job.json()["jobId"]) == 5  # the render; the .vidova upload is 0
    prompt_job = avs.post("from-prompt", PROMPT, files=[("rec.vidova", recording)])
    assert prompt_job.status_code == 202, prompt_job.text
    assert ledger_cost(avs, prompt_job.json()["jobId"]) == 8 + 5  # creator + render, and the analysis
    task = api.services.tasks.get(prompt_job.json()["jobId"])
    assert [a.type for a in task.request.assets] == ["screen_recording"]


def test_extension_less_asset_urls_are_typed_by_their_bytes(api: InProcessApp, tmp_path) -> None:  # type: ignore[no-untyped-def]
    clip = make_video(tmp_path / "clip.mp4", 2.0).read_bytes()
    served = {"/a1b2": clip, "/c3d4": b"<html>signed link expired</html>"}
    peer = LocalHTTPServer(
        lambda m, path, h, b: (200, {"content-type": "application/octet-stream"}, served[path.split("?")[0]])
    )
    try:
        avs = Avs(api)
        signed = f"{peer.url}/a1b2?X-Amz-Signature=abc&X-Amz-Expires=600"
        job = avs.post("from-prompt", {**PROMPT, "assetUrls": [signed]})
        assert job.status_code == 202, job.text
        task = api.services.tasks.get(job.json()["jobId"])
        assert [(a.type, a.source) for a in task.request.assets] == [("video", signed)]
        assert ledger_cost(avs, job.json()["jobId"]) == 8 + 5  # priced as the video its bytes are
        bad = avs.post("from-prompt", {**PROMPT, "assetUrls": [signed, f"{peer.url}/c3d4"]})
        error = refused(avs, bad, 400, "INVALID_PAYLOAD", "/assetUrls/1")
        assert "is not a video, image or audio file" in error["message"]
    finally:
        peer.close()


def test_an_extension_less_url_that_cannot_be_read_is_refused_at_submit(api: InProcessApp) -> None:
    avs = Avs(api)
    error = refused(
        avs,
        avs.post("from-prompt", {**PROMPT, "assetUrls": ["https://x.test/what"]}),
        400,
        "INPUT_FETCH_FAILED",
        "/assetUrls/0",
    )
    assert "x.test" in error["message"] and avs.balance() == 100


def test_a_prompt_job_cuts_highlights_from_the_active_segment(
    server: ServerProcess, recording: bytes, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    key = new_key(server, credits=100)
    token = httpx.post(f"{server.url}/api/v1/tokens", headers={"key": key["key"]}, json={"name": "t"}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    created = httpx.post(
        f"{server.url}/api/v1/videos/from-prompt",
        headers=auth,
        data={"request": json.dumps(PROMPT)},
        files=[("files", ("demo.vidova", recording))],
        timeout=60,
    )
    assert created.status_code == 202, created.text

    def ended() -> dict | None:
        job = httpx.get(f"{server.url}/api/v1/jobs/{created.json()['jobId']}", headers=auth).json()
        return job if job["status"] in ("completed", "failed") else None

    job = eventually(ended, timeout=180, what="the prompt job ends")
    assert job["status"] == "completed", job
    out = download(job["result"]["downloadUrl"], tmp_path / "demo.mp4")
    # one highlight: the 2 s of motion between the still screens (trim 2, length 2), not the whole 6 s
    assert probe(out).duration == pytest.approx(2.0, abs=0.15)
    with av.open(str(out)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    middle = frames[len(frames) // 2].astype(float)
    # ffmpeg's test pattern (many colours), not a still solid blue or red screen
    assert middle.std(axis=(0, 1)).mean() > 40 and len(np.unique(middle.reshape(-1, 3), axis=0)) > 50


def test_a_vidova_url_is_checked_at_submit(api: InProcessApp, recording: bytes) -> None:
    served = {
        "/rec.vidova": recording,
        "/bad.vidova": b"VIDOVA\x00 not a container" * 10,
        "/pic.vidova": b"\x89PNG\r\n\x1a\n",
    }
    peer = LocalHTTPServer(lambda m, path, h, b: (200, {"content-type": "application/octet-stream"}, served[path]))
    try:
        avs = Avs(api)
        good = avs.post("from-prompt", {**PROMPT, "assetUrls": [f"{peer.url}/rec.vidova"]})
        assert good.status_code == 202, good.text
        assert ledger_cost(avs, good.json()["jobId"]) == 8 + 5
        dispatched = list(api.executor.dispatched)
        for name, field in (("bad.vidova", "/assetUrls/0"), ("pic.vidova", "/assetUrls/0")):
            response = avs.post("from-prompt", {**PROMPT, "assetUrls": [f"{peer.url}/{name}"]})
            assert response.status_code == 400 and response.json()["error"]["field"] == field, response.text
        template = video_template()
        template["blocks"][0]["source"] = {"url": f"{peer.url}/bad.vidova"}
        response = avs.post("from-json", {"template": template})
        assert response.status_code == 400, response.text
        assert response.json()["error"]["field"] == "/template/blocks/0/source/url"
        assert api.executor.dispatched == dispatched and avs.balance() == 100 - 13
    finally:
        peer.close()

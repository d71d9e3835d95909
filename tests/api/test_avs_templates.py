"""Stored templates with merge fields (an AVS extension): CRUD per key, merge checks before any credit,
and batches of one job per merge set through the create path. In-process (`api`), except the last test:
ten personalised videos from one request on a real `reelforge serve`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from reelforge.media.probe import probe
from tests.api.test_avs_contract import Avs
from tests.asgi import InProcessApp
from tests.conftest import ServerProcess
from tests.helpers import balance, download, new_key

ALL = {"NAME": "a", "COLOR": "red"}
GREETING = {
    "version": "1",
    "name": "greeting",
    "blocks": [
        {"type": "text", "start": 0, "duration": "{{ SECONDS }}", "text": "Hello {{ NAME }}!", "color": "{{ COLOR }}"}
    ],
}


@pytest.fixture
def avs(api: InProcessApp) -> Avs:
    return Avs(api, credits=100)


def _store(avs: Avs, body: dict[str, Any]) -> httpx.Response:
    return avs.api.client.post("/api/v1/templates", headers=avs.headers, json=body)


def _render(avs: Avs, body: Any, **headers: str) -> httpx.Response:
    return avs.api.client.post("/api/v1/videos/from-template", headers={**avs.headers, **headers}, json=body)


def test_crud_per_key(avs: Avs, api: InProcessApp) -> None:
    created = _store(avs, {"template": GREETING, "defaults": {"COLOR": "white"}})
    assert created.status_code == 201, created.text
    stored = created.json()
    assert stored["name"] == "greeting" and stored["fields"] == ["SECONDS", "NAME", "COLOR"]
    assert stored["defaults"] == {"COLOR": "white"} and stored["template"] == GREETING
    template_id = stored["templateId"]

    client = avs.api.client
    assert client.get(f"/api/v1/templates/{template_id}", headers=avs.headers).json() == stored
    listed = client.get("/api/v1/templates", headers=avs.headers).json()["templates"]
    assert [t["templateId"] for t in listed] == [template_id]

    renamed = client.put(f"/api/v1/templates/{template_id}", headers=avs.headers, json={"name": "hi"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "hi"
    assert renamed.json()["template"] == GREETING  # an update keeps what it does not send

    other = Avs(api)  # another key sees nothing of it
    assert other.api.client.get(f"/api/v1/templates/{template_id}", headers=other.headers).status_code == 404
    assert other.api.client.get("/api/v1/templates", headers=other.headers).json() == {"templates": []}
    assert other.api.client.delete(f"/api/v1/templates/{template_id}", headers=other.headers).status_code == 404

    assert client.delete(f"/api/v1/templates/{template_id}", headers=avs.headers).status_code == 204
    gone = client.get(f"/api/v1/templates/{template_id}", headers=avs.headers)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "NOT_FOUND"
    assert client.get("/api/v1/templates", headers={}).status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "/template"),
        ({"template": {"version": "2", "blocks": []}}, "/template/version"),
        ({"template": {"version": "1", "blocks": []}}, "/template/blocks"),
        ({"template": GREETING, "defaults": {"NAMES": "x"}}, "/defaults/NAMES"),
        ({"template": GREETING, "defaults": {"NAME": ["x"]}}, "/defaults/NAME"),
        ({"template": GREETING, "colour": 1}, "/colour"),
        # every field has a default: the template is checked whole, pointers into it
        ({"template": GREETING, "defaults": {**ALL, "SECONDS": -1}}, "/template/blocks/0/duration"),
        ({"template": GREETING, "defaults": {**ALL, "SECONDS": 1, "COLOR": "no"}}, "/template/blocks/0/color"),
    ],
)
def test_a_bad_template_is_not_stored(avs: Avs, body: dict[str, Any], field: str) -> None:
    response = _store(avs, body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"] == field
    assert avs.api.client.get("/api/v1/templates", headers=avs.headers).json() == {"templates": []}


@pytest.mark.parametrize(
    ("merge", "field", "words"),
    [
        ({"NAME": "Ada"}, "/merge/SECONDS", "SECONDS"),  # missing (no default)
        ({"NAME": "Ada", "SECONDS": 1, "AGE": 3}, "/merge/AGE", "no field 'AGE'"),  # unknown
        ({"NAME": {"first": "Ada"}, "SECONDS": 1}, "/merge/NAME", "string or a number"),
        ({"NAME": "Ada", "SECONDS": "soon"}, "/template/blocks/0/duration", "/merge"),  # wrong type once merged
        ([{"NAME": "Ada", "SECONDS": 1}, {"NAME": "Bob"}], "/merge/1/SECONDS", "SECONDS"),  # batch: set 1 bad
        ([], "/merge", "empty"),
        ("Ada", "/merge", "object"),
    ],
)
def test_merge_values_are_checked_before_any_credit(avs: Avs, merge: Any, field: str, words: str) -> None:
    template_id = _store(avs, {"template": GREETING, "defaults": {"COLOR": "white"}}).json()["templateId"]
    before = avs.balance()
    response = _render(avs, {"templateId": template_id, "merge": merge})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["field"] == field and words in error["message"], error
    assert avs.balance() == before
    assert avs.api.client.get("/api/v1/jobs/none", headers=avs.headers).status_code == 404


def test_render_one_and_a_batch(avs: Avs) -> None:
    template_id = _store(avs, {"template": GREETING, "defaults": {"COLOR": "white"}}).json()["templateId"]
    one = _render(avs, {"templateId": template_id, "merge": {"NAME": "Ada", "SECONDS": 1}})
    assert one.status_code == 202, one.text
    assert one.json()["status"] == "queued" and avs.balance() == 95

    sets = [{"NAME": f"person {i}", "SECONDS": 1 + i % 2, "COLOR": "yellow"} for i in range(3)]
    batch = _render(avs, {"templateId": template_id, "merge": sets, "output": {"quality": "draft"}})
    assert batch.status_code == 202, batch.text
    jobs = batch.json()["jobs"]
    assert len({job["jobId"] for job in jobs}) == 3 and avs.balance() == 80  # each job charged on its own
    tasks = [avs.api.services.tasks.get(job["jobId"]) for job in jobs]
    texts = [task.request.template["blocks"][0]["text"] for task in tasks]  # type: ignore[index]
    assert texts == ["Hello person 0!", "Hello person 1!", "Hello person 2!"]
    assert [t.request.duration for t in tasks] == [1, 2, 1]
    assert tasks[0].input["templateId"] == template_id and tasks[0].input["merge"] == sets[0]


def test_a_batch_the_balance_cannot_cover_is_refused_whole(api: InProcessApp) -> None:
    poor = Avs(api, credits=12)  # 3 jobs x 5 credits
    template_id = _store(poor, {"template": GREETING}).json()["templateId"]
    sets = [{"NAME": str(i), "SECONDS": 1, "COLOR": "red"} for i in range(3)]
    response = _render(poor, {"templateId": template_id, "merge": sets})
    assert response.status_code == 402, response.text
    assert poor.balance() == 12


def test_a_batch_is_idempotent(avs: Avs) -> None:
    template_id = _store(avs, {"template": GREETING}).json()["templateId"]
    body = {"templateId": template_id, "merge": [{"NAME": str(i), "SECONDS": 1, "COLOR": "red"} for i in range(2)]}
    first = _render(avs, body, **{"Idempotency-Key": "k1"}).json()["jobs"]
    again = _render(avs, body, **{"Idempotency-Key": "k1"}).json()["jobs"]
    assert [j["jobId"] for j in first] == [j["jobId"] for j in again] and avs.balance() == 90


def test_an_unknown_template_is_404(avs: Avs) -> None:
    response = _render(avs, {"templateId": "tpl_nope", "merge": {}})
    assert response.status_code == 404 and response.json()["error"]["code"] == "NOT_FOUND"
    assert _render(avs, {"merge": {}}).json()["error"]["field"] == "/templateId"


def test_ten_personalised_videos_from_one_request(server: ServerProcess, tmp_path: Path) -> None:
    key = new_key(server, credits=100, name="templates")
    token = httpx.post(f"{server.url}/api/v1/tokens", headers={"key": key["key"]}, json={"name": "t"}).json()
    headers = {"Authorization": f"Bearer {token['token']}"}
    stored = httpx.post(f"{server.url}/api/v1/templates", headers=headers, json={"template": GREETING})
    assert stored.status_code == 201, stored.text
    names = ["Ada", "Бора", "世界", "مرحبا", "Chloé", "दीप", "สมชาย", "Γιώργος", "דנה", "Zoë"]
    sets = [{"NAME": name, "SECONDS": 0.5, "COLOR": "white"} for name in names]
    response = httpx.post(
        f"{server.url}/api/v1/videos/from-template",
        headers=headers,
        json={"templateId": stored.json()["templateId"], "merge": sets, "output": {"quality": "draft"}},
        timeout=60,
    )
    assert response.status_code == 202, response.text
    jobs = response.json()["jobs"]
    assert len(jobs) == 10

    from tests.api.test_avs import wait_job

    sizes = set()
    for job in jobs:
        done, _ = wait_job(server, job["jobId"], token["token"])
        assert done["status"] == "completed", done
        video = download(done["result"]["downloadUrl"], tmp_path / f"{job['jobId']}.mp4")
        info = probe(video)
        assert (info.width, info.height) == (640, 360) and abs(info.duration - 0.5) < 0.1
        sizes.add(len(video.read_bytes()))
    assert len(sizes) == 10  # ten different videos
    assert balance(server, key["id"])[0] == 50  # ten jobs, 5 credits each


def test_an_uploaded_subtitle_file_feeds_a_captions_block(avs: Avs) -> None:
    template = {
        "version": "1",
        "blocks": [{"type": "captions", "start": 0, "duration": 1, "source": {"uploadName": "lines.srt"}}],
    }
    srt = b"1\n00:00:00,000 --> 00:00:01,000\nhello\n"
    response = avs.post("from-json", {"template": template}, files=[("lines.srt", srt)])
    assert response.status_code == 202, response.text
    assert avs.balance() == 95  # the render; a subtitle file costs nothing
    task = avs.api.services.tasks.get(response.json()["jobId"])
    assert task.request.template["blocks"][0]["source"]["ref"].startswith("stored:")  # type: ignore[index]


def test_a_preview_costs_half(avs: Avs) -> None:
    template = {"version": "1", "blocks": [{"type": "text", "start": 0, "duration": 1, "text": "x"}]}
    response = avs.post("from-json", {"template": template, "output": {"quality": "preview"}})
    assert response.status_code == 202, response.text
    assert avs.balance() == 97  # 5 credits at full quality, 3 (half, rounded up) as a preview


def test_a_webm_with_a_poster_over_http(server: ServerProcess, tmp_path: Path) -> None:
    key = new_key(server, credits=20, name="webm")
    token = httpx.post(f"{server.url}/api/v1/tokens", headers={"key": key["key"]}, json={"name": "t"}).json()
    headers = {"Authorization": f"Bearer {token['token']}"}
    template = {"version": "1", "blocks": [{"type": "text", "start": 0, "duration": 1, "text": "世界 مرحبا"}]}
    output = {"quality": "preview", "format": "webm", "poster": 0.5}
    response = httpx.post(
        f"{server.url}/api/v1/videos/from-json", headers=headers, json={"template": template, "output": output}
    )
    assert response.status_code == 202, response.text
    from tests.api.test_avs import wait_job

    done, _ = wait_job(server, response.json()["jobId"], token["token"])
    assert done["status"] == "completed", done
    video = httpx.get(done["result"]["downloadUrl"], timeout=30)
    assert video.headers["content-type"] == "video/webm" and video.content[:4] == b"\x1a\x45\xdf\xa3"  # EBML
    (tmp_path / "v.webm").write_bytes(video.content)
    assert (probe(tmp_path / "v.webm").width, probe(tmp_path / "v.webm").height) == (426, 240)
    poster = httpx.get(done["result"]["posterUrl"], timeout=30)
    assert poster.headers["content-type"] == "image/jpeg" and poster.content[:2] == b"\xff\xd8"
    assert balance(server, key["id"])[0] == 17  # a preview: half of 5, rounded up

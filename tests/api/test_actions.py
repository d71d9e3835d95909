"""The actions API (Modkie contract) over real HTTP: each action and scene end to end."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from reelforge.media.probe import probe
from tests.conftest import ServerProcess
from tests.helpers import LocalHTTPServer, data_uri, download, make_video, png_bytes


def act(server: ServerProcess, name: str, body: dict, *, header: str = "bearer") -> httpx.Response:
    auth = {"Authorization": f"Bearer {server.key}"} if header == "bearer" else {"X-Api-Key": server.key}
    return httpx.post(f"{server.url}/api/actions/{name}", json=body, headers=auth, timeout=300)


def test_list_and_schemas(server: ServerProcess) -> None:
    names = [a["name"] for a in httpx.get(f"{server.url}/api/actions").json()["actions"]]
    assert names == ["ai.video.generate", "ai.video.query", "ai.video.generate_and_wait"]
    schema = httpx.get(f"{server.url}/api/actions/ai.video.generate_and_wait/schema").json()
    assert schema["input"]["properties"]["scene"]["enum"] == [
        "text-to-video",
        "image-to-video",
        "video-to-video",
        "ad-video",
    ]
    assert "timeoutMs" in schema["input"]["properties"] and "videoUrl" in schema["output"]["properties"]
    assert httpx.get(f"{server.url}/api/actions/ai.nope/schema").status_code == 404


def test_generate_then_query_until_success(server: ServerProcess, tmp_path: Path) -> None:
    created = act(server, "ai.video.generate", {"prompt": "ocean waves at sunset", "scene": "text-to-video"})
    assert created.status_code == 200, created.text
    answer = created.json()
    assert answer["status"] == "queued" and answer["provider"] == "reelforge" and answer["model"] == "t2v"
    deadline = time.monotonic() + 120
    while answer["status"] not in ("success", "failed") and time.monotonic() < deadline:
        time.sleep(0.2)
        answer = act(server, "ai.video.query", {"taskId": answer["taskId"]}, header="x-api-key").json()
    assert answer["status"] == "success" and answer["videoUrl"] == answer["url"]
    assert probe(download(answer["videoUrl"], tmp_path / "t2v.mp4")).duration == pytest.approx(5, abs=0.05)


def test_each_scene_with_generate_and_wait(server: ServerProcess, tmp_path: Path) -> None:
    clip = make_video(tmp_path / "in.mp4", 2.0, "orange", audio=False).read_bytes()
    still = png_bytes(320, 240)
    peer = LocalHTTPServer(
        lambda m, path, h, b: (
            (200, {"content-type": "video/mp4"}, clip)
            if path.endswith(".mp4")
            else (200, {"content-type": "image/png"}, still)
        )
    )
    try:
        cases = {
            "image-to-video": ({"imageInput": data_uri(png_bytes(200, 200))}, (1280, 720), 5.0),
            "video-to-video": (
                {"videoInput": f"{peer.url}/clip.mp4", "options": {"aspectRatio": "1:1"}},
                (720, 720),
                5.0,
            ),
            "ad-video": (
                {
                    "imageInput": [f"{peer.url}/a.png", f"{peer.url}/b.png"],
                    "options": {"aspectRatio": "9:16", "duration": 6},
                },
                (360, 640),
                6.0,
            ),
        }
        answers = {
            scene: act(
                server,
                "ai.video.generate_and_wait",
                {"prompt": "spring sale", "scene": scene, "timeoutMs": 120000, **extra},
            ).json()
            for scene, (extra, _, _) in cases.items()
        }
    finally:
        peer.close()
    for scene, (_, size, seconds) in cases.items():
        answer = answers[scene]
        assert answer["status"] == "success", (scene, answer)
        info = probe(download(answer["videoUrl"], tmp_path / f"{scene}.mp4"))
        assert (info.width, info.height) == size, scene
        assert info.duration == pytest.approx(seconds, abs=0.1), scene


def test_wait_returns_the_running_task_not_an_error(start_server) -> None:
    idle = start_server(workers=0)
    answer = act(idle, "ai.video.generate_and_wait", {"prompt": "x", "timeoutMs": 300})
    assert answer.status_code == 200 and answer.json()["status"] == "queued"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scene": "text-to-video"}, "/prompt"),
        ({"prompt": "x", "scene": "hologram"}, "/scene"),
        ({"prompt": "x", "provider": "kie"}, "/provider"),
        ({"prompt": "x", "scene": "image-to-video"}, "/imageInput"),
        ({"prompt": "x", "scene": "video-to-video"}, "/videoInput"),
        ({"prompt": "x", "options": {"duration": 7}}, "/options/duration"),
    ],
)
def test_invalid_inputs_are_400_naming_the_field(server: ServerProcess, body: dict, field: str) -> None:
    response = act(server, "ai.video.generate", body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"] == field

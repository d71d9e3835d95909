"""The actions API (Modkie contract) over real HTTP: each action and scene end to end, with workers.

Validation, refused creates, idempotency, schemas and OpenAPI run in-process in `test_actions_contract.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from reelforge.media.probe import probe
from tests.conftest import ServerProcess
from tests.helpers import LocalHTTPServer, data_uri, download, eventually, make_video, png_bytes


def act(server: ServerProcess, name: str, body: dict, *, header: str = "bearer") -> httpx.Response:
    key = server.key or ""
    auth = {"Authorization": f"Bearer {key}"} if header == "bearer" else {"X-Api-Key": key}
    return httpx.post(f"{server.url}/api/actions/{name}", json=body, headers=auth, timeout=300)


def test_generate_then_query_until_success(server: ServerProcess, tmp_path: Path) -> None:
    created = act(server, "ai.video.generate", {"prompt": "ocean waves at sunset", "scene": "text-to-video"})
    assert created.status_code == 200, created.text
    answer = created.json()
    assert answer["status"] == "queued" and answer["provider"] == "reelforge" and answer["model"] == "t2v"
    task_id = answer["taskId"]

    def finished() -> dict | None:
        now = act(server, "ai.video.query", {"taskId": task_id}, header="x-api-key").json()
        return now if now["status"] in ("success", "failed") else None

    answer = eventually(finished, timeout=120, interval=0.2, what="the task to finish")
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
        cases: dict[str, tuple[dict[str, Any], tuple[int, int], float]] = {
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

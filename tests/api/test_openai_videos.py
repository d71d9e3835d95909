"""OpenAI's Videos API and the Agnes-Video-V2.0 contract, driven by the official `openai` SDK and raw HTTP."""

from __future__ import annotations

import io
from pathlib import Path

import av
import httpx
import numpy as np
import openai
import pytest
from PIL import Image

from reelforge.media.probe import probe
from tests.conftest import ServerProcess
from tests.helpers import LocalHTTPServer, balance, data_uri, eventually, new_key, png_bytes

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK marks Sora as retiring
MODEL = "agnes-video-v2.0"


def sdk(server: ServerProcess, key: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=f"{server.url}/v1", max_retries=0)


def agnes(server: ServerProcess, key: str, body: dict) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/videos", headers={"Authorization": f"Bearer {key}"}, json=body, timeout=30)


def wait_agnes(server: ServerProcess, key: str, video_id: str, timeout: float = 120) -> dict:
    def finished() -> dict | None:
        body = httpx.get(
            f"{server.url}/agnesapi",
            params={"video_id": video_id, "model_name": MODEL},
            headers={"Authorization": f"Bearer {key}"},
        ).json()
        return body if body["status"] in ("completed", "failed") else None

    return eventually(finished, timeout=timeout, what=f"video {video_id} finishes")


def test_sdk_create_and_poll_retrieve_download_list_delete(server: ServerProcess, tmp_path: Path) -> None:
    key = new_key(server, credits=100)
    client = sdk(server, key["key"])
    video = client.videos.create_and_poll(
        model=MODEL, prompt="a paper boat on a stream", seconds="4", size="1280x720", poll_interval_ms=100
    )
    assert video.status == "completed" and video.progress == 100, video
    assert video.size == "1280x720" and video.seconds == "4" and video.object == "video"
    assert client.videos.retrieve(video.id).completed_at >= video.created_at

    content = client.videos.download_content(video.id, variant="video")
    path = tmp_path / "sdk.mp4"
    content.write_to_file(path)
    info = probe(path)
    assert (info.width, info.height, info.frame_count) == (1280, 720, 96) and info.fps == pytest.approx(24)
    thumb = client.videos.download_content(video.id, variant="thumbnail")
    assert thumb.content[:2] == b"\xff\xd8"

    more = [client.videos.create(model=MODEL, prompt=f"clip {i}", seconds="1", size="854x480").id for i in range(3)]
    first_page = client.videos.list(limit=2)
    assert [v.id for v in first_page.data] == more[::-1][:2] and first_page.has_more
    assert [v.id for v in client.videos.list(limit=2)] == [*more[::-1], video.id]  # auto-pagination
    assert [v.id for v in client.videos.list(limit=10, order="asc").data] == [video.id, *more]

    deleted = client.videos.delete(video.id)
    assert deleted.deleted and deleted.object == "video.deleted" and deleted.id == video.id
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(video.id)
    assert not (server.data_dir / "artifacts" / "tasks" / video.id).exists()


def test_sdk_upload_input_reference_and_remix(server: ServerProcess, tmp_path: Path) -> None:
    key = new_key(server, credits=100)
    client = sdk(server, key["key"])
    video = client.videos.create_and_poll(
        model=MODEL,
        prompt="the harbour wakes",
        seconds="2",
        size="720x1280",
        input_reference=("harbour.png", png_bytes(300, 500), "image/png"),
        poll_interval_ms=100,
    )
    assert video.status == "completed", video
    remix = client.videos.remix(video.id, prompt="the harbour at night")
    assert remix.id != video.id and remix.remixed_from_video_id == video.id and remix.prompt == "the harbour at night"
    done = client.videos.poll(remix.id, poll_interval_ms=100)
    assert done.status == "completed" and done.size == video.size and done.seconds == video.seconds


def test_the_four_agnes_examples_end_to_end(server: ServerProcess, tmp_path: Path) -> None:
    key = new_key(server, credits=200)
    colours = {f"/{name}.png": png_bytes(640, 360, seed=i) for i, name in enumerate(("a", "b", "c"))}
    images = LocalHTTPServer(lambda m, path, h, b: (200, {"content-type": "image/png"}, colours[path]))
    try:
        bodies = {
            "text": {"model": MODEL, "prompt": "A fox runs through snow", "num_frames": 81, "frame_rate": 24},
            "image": {
                "model": MODEL,
                "prompt": "The scene comes alive",
                "image": f"{images.url}/a.png",
                "num_frames": 41,
                "frame_rate": 20,
            },
            "multi": {
                "model": MODEL,
                "prompt": "A product tour",
                "extra_body": {"image": [f"{images.url}/a.png", f"{images.url}/b.png", f"{images.url}/c.png"]},
                "num_frames": 49,
                "frame_rate": 24,
            },
            "keyframes": {
                "model": MODEL,
                "prompt": "Morph between the states",
                "width": 1280,
                "height": 720,
                "image": [f"{images.url}/a.png", f"{images.url}/c.png"],
                "extra_body": {"mode": "keyframes"},
                "num_frames": 33,
                "frame_rate": 16,
            },
        }
        created = {}
        for name, body in bodies.items():
            response = agnes(server, key["key"], body)
            assert response.status_code == 200, (name, response.text)
            payload = response.json()
            assert payload["id"] == payload["task_id"] == payload["video_id"]
            assert payload["status"] == "queued" and response.headers["openai-poll-after-ms"]
            created[name] = payload["video_id"]
        results = {name: wait_agnes(server, key["key"], video_id) for name, video_id in created.items()}
    finally:
        images.close()
    expected = {
        "text": (81, 24, "960x720"),
        "image": (41, 20, "960x720"),
        "multi": (49, 24, "960x720"),
        "keyframes": (33, 16, "1280x720"),
    }
    for name, result in results.items():
        assert result["status"] == "completed", (name, result)
        frames, fps, size = expected[name]
        assert result["size"] == size and result["seconds"] == f"{frames / fps:.2f}".rstrip("0").rstrip(".")
        assert result["video_url"] and result["remixed_from_video_id"] == result["video_url"]
        path = tmp_path / f"{name}.mp4"
        path.write_bytes(httpx.get(result["video_url"]).content)
        info = probe(path)
        assert info.frame_count == frames and info.fps == pytest.approx(fps), name
        assert f"{info.width}x{info.height}" == size


def test_one_key_cannot_see_download_or_delete_anothers_video(server: ServerProcess) -> None:
    alice, bob = new_key(server, 50, "alice"), new_key(server, 50, "bob")
    video = sdk(server, alice["key"]).videos.create_and_poll(
        model=MODEL, prompt="mine", seconds="1", size="854x480", poll_interval_ms=100
    )
    thief = sdk(server, bob["key"])
    for attempt in (
        lambda: thief.videos.retrieve(video.id),
        lambda: thief.videos.download_content(video.id),
        lambda: thief.videos.delete(video.id),
        lambda: thief.videos.remix(video.id, prompt="x"),
    ):
        with pytest.raises(openai.NotFoundError):
            attempt()
    assert thief.videos.list().data == []
    assert sdk(server, alice["key"]).videos.retrieve(video.id).status == "completed"
    with pytest.raises(openai.AuthenticationError):
        sdk(server, "rf_wrong").videos.list()


def test_queue_bound_answers_503_and_delete_refunds_a_queued_video(start_server) -> None:
    busy = start_server(workers=0, env={"REELFORGE_MAX_QUEUED_TASKS": "1"})
    key = new_key(busy, credits=20)
    first = agnes(busy, key["key"], {"model": MODEL, "prompt": "one", "num_frames": 121})
    assert first.status_code == 200
    second = agnes(busy, key["key"], {"model": MODEL, "prompt": "two", "num_frames": 121})
    assert second.status_code == 503 and second.json()["error"]["code"] == "QUEUE_FULL"
    assert int(second.headers["Retry-After"]) > 0
    assert balance(busy, key["id"])[0] == 14  # only the first was charged: 121 frames at 24 fps, 5.04 s -> 6
    deleted = httpx.delete(
        f"{busy.url}/v1/videos/{first.json()['id']}", headers={"Authorization": f"Bearer {key['key']}"}
    )
    assert deleted.json() == {"id": first.json()["id"], "deleted": True, "object": "video.deleted"}
    assert balance(busy, key["id"])[0] == 20
    assert agnes(busy, key["key"], {"model": MODEL, "prompt": "three"}).status_code == 200  # room again


def test_idempotent_create_through_the_sdk(start_server) -> None:
    idle = start_server(workers=0)
    key = new_key(idle, credits=50)
    client = sdk(idle, key["key"])
    kwargs = {
        "model": MODEL,
        "prompt": "once",
        "seconds": "2",
        "size": "854x480",
        "input_reference": ("ref.png", png_bytes(64, 64), "image/png"),
        "extra_headers": {"Idempotency-Key": "retry-safe-1"},
    }
    first, second = client.videos.create(**kwargs), client.videos.create(**kwargs)
    assert first.id == second.id
    assert balance(idle, key["id"])[0] == 48
    with pytest.raises(openai.ConflictError):
        client.videos.create(**{**kwargs, "prompt": "twice"})
    assert len(list((idle.data_dir / "artifacts" / "uploads").iterdir())) == 1


def solid_png(rgb: tuple[int, int, int], width: int = 320, height: int = 180) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), rgb).save(buffer, format="PNG")
    return buffer.getvalue()


RED, GREEN, BLUE = (220, 30, 30), (30, 200, 40), (30, 40, 220)


def centre_colour(frame: np.ndarray) -> np.ndarray:
    """Mean RGB of the frame's centre (away from any caption at the bottom)."""
    h, w = frame.shape[:2]
    return frame[h // 4 : h // 2, w // 3 : 2 * w // 3].reshape(-1, 3).mean(axis=0)


def assert_near(frame: np.ndarray, rgb: tuple[int, int, int], what: str) -> None:
    seen = centre_colour(frame)
    assert np.abs(seen - np.array(rgb)).max() <= 40, (what, seen.round(), rgb)


def decoded_frames(client: openai.OpenAI, video_id: str, path: Path) -> list[np.ndarray]:
    client.videos.download_content(video_id).write_to_file(path)
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def test_sdk_multipart_extra_body_images_and_keyframes_are_the_frames_of_the_video(
    server: ServerProcess, tmp_path: Path
) -> None:
    """The SDK sends `videos.create` as multipart: `extra_body` images arrive as `image[]`,
    `extra_body[image][]` and `extra_body[mode]` fields. Each must make the video its JSON form makes."""
    key = new_key(server, credits=100)
    client = sdk(server, key["key"])
    red, green, blue = (data_uri(solid_png(c)) for c in (RED, GREEN, BLUE))
    keyframes = client.videos.create(
        model=MODEL,
        prompt="from red to blue",
        size="1280x720",
        extra_body={"extra_body": {"image": [red, blue], "mode": "keyframes"}, "num_frames": 33, "frame_rate": 16},
    )
    multi = client.videos.create(
        model=MODEL, prompt="a tour", extra_body={"image": [red, green, blue], "num_frames": 49, "frame_rate": 24}
    )
    nested = client.videos.create(
        model=MODEL, prompt="two stills", extra_body={"extra_body": {"image": [green, blue]}, "num_frames": 25}
    )
    done = {v.id: client.videos.poll(v.id, poll_interval_ms=100) for v in (keyframes, multi, nested)}
    assert all(v.status == "completed" for v in done.values()), done
    assert done[keyframes.id].size == "1280x720" and done[keyframes.id].seconds == "2.06"

    frames = decoded_frames(client, keyframes.id, tmp_path / "keyframes.mp4")
    assert len(frames) == 33
    assert_near(frames[0], RED, "first keyframe")
    assert_near(frames[-1], BLUE, "last keyframe")

    frames = decoded_frames(client, multi.id, tmp_path / "multi.mp4")
    assert len(frames) == 49
    assert_near(frames[2], RED, "first image")
    assert_near(frames[24], GREEN, "second image")
    assert_near(frames[-3], BLUE, "third image")

    # the spritesheet: 16 frames sampled across the video, 4 wide, made when the video was stored
    sheet = Image.open(io.BytesIO(client.videos.download_content(multi.id, variant="spritesheet").content))
    assert sheet.format == "JPEG" and sheet.size == (4 * 256, 4 * 192), sheet.size  # 960x720 tiles, 256 wide
    tiles = np.asarray(sheet.convert("RGB"))
    tile = lambda k: tiles[(k // 4) * 192 : (k // 4 + 1) * 192, (k % 4) * 256 : (k % 4 + 1) * 256]  # noqa: E731
    assert_near(tile(0), RED, "first tile")
    assert_near(tile(8), GREEN, "middle tile")
    assert_near(tile(15), BLUE, "last tile")

    frames = decoded_frames(client, nested.id, tmp_path / "nested.mp4")
    assert_near(frames[1], GREEN, "first of extra_body[image][]")
    assert_near(frames[-2], BLUE, "second of extra_body[image][]")


def test_sdk_sora_call_unchanged_gets_openais_defaults(server: ServerProcess, tmp_path: Path) -> None:
    """A client written for OpenAI's Sora, with only base_url and key changed."""
    key = new_key(server, credits=100)
    client = sdk(server, key["key"])
    video = client.videos.create_and_poll(model="sora-2", prompt="a lighthouse at dusk", poll_interval_ms=100)
    assert video.status == "completed", video
    assert (video.model, video.size, video.seconds) == ("sora-2", "720x1280", "4")
    client.videos.download_content(video.id).write_to_file(tmp_path / "sora.mp4")
    info = probe(tmp_path / "sora.mp4")
    assert (info.width, info.height, info.frame_count) == (720, 1280, 96)
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.create(model="sora-2-pro", prompt="x", seconds="4", size="1920x1080")  # type: ignore[arg-type]
    assert caught.value.body["param"] == "/size"  # type: ignore[index]
    assert balance(server, key["id"])[0] == 96

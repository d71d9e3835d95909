"""The diffusion engine behind the HTTP API: tiny random-weight LTX and Wan models built in code,
configured through a real `models.toml`, driven over `/v1/videos` like any client would."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from reelforge.media.probe import probe
from tests.conftest import ServerProcess, run_cli
from tests.engines.tiny_pipelines import build_tiny_ltx, build_tiny_ltx2, build_tiny_wan
from tests.helpers import LocalHTTPServer, balance, new_key, png_bytes

os.environ["HF_HUB_OFFLINE"] = "1"

MODELS = """
[models.ltx-tiny]
engine = "diffusion"
kind = "text_to_video"
description = "LTX-Video, tiny random weights (tests: noise)"
credits_per_second = 1
standardize_sizes = false

[models.ltx-tiny.settings]
family = "ltx"
weights = "{ltx}"
default_steps = 3

[models.wan-tiny]
engine = "diffusion"
kind = "text_to_video"
description = "Wan, tiny random weights (tests: noise)"
credits_per_second = 1
standardize_sizes = false

[models.wan-tiny.settings]
family = "wan"
weights = "{wan}"
default_steps = 3
pipeline_kwargs = {{ max_sequence_length = 16 }}

# LTX-2 with sound, loaded and warmed up when the worker starts (preload follows warmup)
[models.ltx2-tiny]
engine = "diffusion"
kind = "text_to_video"
description = "LTX-2, tiny random weights (tests: noise and hiss)"
credits_per_second = 1
standardize_sizes = false

[models.ltx2-tiny.settings]
family = "ltx2"
weights = "{ltx2}"
default_steps = 4
warmup = true
warmup_shape = [32, 32, 9]
pipeline_kwargs = {{ max_sequence_length = 16 }}
"""

STAGES = ("inputs", "text_encoding", "setup", "denoising", "decode", "encode")


@pytest.fixture(scope="module")
def diffusion_server(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("diffusion")
    models = root / "models.toml"
    models.write_text(
        MODELS.format(
            ltx=build_tiny_ltx(root / "ltx"), wan=build_tiny_wan(root / "wan"), ltx2=build_tiny_ltx2(root / "ltx2")
        )
    )
    server = ServerProcess(
        root / "data", workers=1, env={"REELFORGE_MODELS_FILE": str(models), "HF_HUB_OFFLINE": "1"}
    ).start()
    yield server
    server.stop()


def create(server: ServerProcess, key: str, body: dict) -> dict:
    response = httpx.post(f"{server.url}/v1/videos", headers={"Authorization": f"Bearer {key}"}, json=body, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def watch(server: ServerProcess, key: str, video_id: str, timeout: float = 120) -> tuple[dict, list[int]]:
    seen: list[int] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        video = httpx.get(f"{server.url}/v1/videos/{video_id}", headers={"Authorization": f"Bearer {key}"}).json()
        if not seen or seen[-1] != video["progress"]:
            seen.append(video["progress"])
        if video["status"] in ("completed", "failed"):
            return video, seen
        time.sleep(0.02)
    raise AssertionError(f"{video_id} did not finish: {video}\n{server.log()[-3000:]}")


def frames_of(server: ServerProcess, key: str, video_id: str, path: Path) -> tuple[object, np.ndarray]:
    import av

    content = httpx.get(f"{server.url}/v1/videos/{video_id}/content", headers={"Authorization": f"Bearer {key}"})
    path.write_bytes(content.content)
    with av.open(str(path)) as container:
        pixels = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    return probe(path), pixels


def test_ltx_text_image_keyframes_and_wan_text_end_to_end(diffusion_server: ServerProcess, tmp_path: Path) -> None:
    key = new_key(diffusion_server, credits=100)["key"]
    images = LocalHTTPServer(
        lambda m, path, h, b: (200, {"content-type": "image/png"}, png_bytes(96, 64, seed=len(path)))
    )
    try:
        jobs = {
            "ltx-text": {
                "model": "ltx-tiny",
                "prompt": "a fox",
                "width": 64,
                "height": 64,
                "num_frames": 9,
                "frame_rate": 8,
            },
            "ltx-image": {
                "model": "ltx-tiny",
                "prompt": "it moves",
                "width": 96,
                "height": 64,
                "num_frames": 17,
                "frame_rate": 12,
                "image": f"{images.url}/a.png",
            },
            "ltx-keyframes": {
                "model": "ltx-tiny",
                "prompt": "between",
                "width": 64,
                "height": 64,
                "num_frames": 17,
                "frame_rate": 8,
                "image": [f"{images.url}/a.png", f"{images.url}/bb.png"],
                "extra_body": {"mode": "keyframes"},
            },
            "wan-text": {
                "model": "wan-tiny",
                "prompt": "a fox",
                "width": 80,
                "height": 64,
                "num_frames": 9,
                "frame_rate": 16,
            },
        }
        created = {name: create(diffusion_server, key, body)["id"] for name, body in jobs.items()}
        results = {name: watch(diffusion_server, key, vid)[0] for name, vid in created.items()}
    finally:
        images.close()
    for name, body in jobs.items():
        assert results[name]["status"] == "completed", (name, results[name])
        info, pixels = frames_of(diffusion_server, key, created[name], tmp_path / f"{name}.mp4")
        assert (info.width, info.height) == (body["width"], body["height"]), name
        assert info.frame_count == body["num_frames"] == len(pixels), name
        assert info.fps == pytest.approx(body["frame_rate"]), name


def test_progress_rises_step_by_step_and_the_model_loads_once(diffusion_server: ServerProcess) -> None:
    key = new_key(diffusion_server, credits=100)["key"]
    first = create(
        diffusion_server,
        key,
        {
            "model": "ltx-tiny",
            "prompt": "slow",
            "width": 64,
            "height": 64,
            "num_frames": 9,
            "frame_rate": 8,
            "num_inference_steps": 150,
        },
    )
    video, seen = watch(diffusion_server, key, first["id"])
    assert video["status"] == "completed"
    assert seen == sorted(seen) and seen[-1] == 100
    assert len([p for p in seen if 0 < p < 90]) >= 3, seen  # several denoising steps seen on the way
    second = create(
        diffusion_server,
        key,
        {"model": "ltx-tiny", "prompt": "again", "width": 64, "height": 64, "num_frames": 9, "frame_rate": 8},
    )
    assert watch(diffusion_server, key, second["id"])[0]["status"] == "completed"
    loads = [line for line in diffusion_server.log().splitlines() if "loaded ltx weights" in line]
    assert len(loads) == 1, loads


def test_same_seed_same_frames(diffusion_server: ServerProcess, tmp_path: Path) -> None:
    key = new_key(diffusion_server, credits=100)["key"]
    body = {
        "model": "wan-tiny",
        "prompt": "waves",
        "width": 64,
        "height": 64,
        "num_frames": 9,
        "frame_rate": 8,
        "seed": 1234,
    }
    ids = [create(diffusion_server, key, body)["id"] for _ in range(2)]
    other = create(diffusion_server, key, {**body, "seed": 99})["id"]
    for video_id in [*ids, other]:
        assert watch(diffusion_server, key, video_id)[0]["status"] == "completed"
    _, a = frames_of(diffusion_server, key, ids[0], tmp_path / "a.mp4")
    _, b = frames_of(diffusion_server, key, ids[1], tmp_path / "b.mp4")
    _, c = frames_of(diffusion_server, key, other, tmp_path / "c.mp4")
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_cancel_in_the_middle_of_denoising_refunds(diffusion_server: ServerProcess) -> None:
    created = new_key(diffusion_server, credits=100)
    key = created["key"]
    video = create(
        diffusion_server,
        key,
        {
            "model": "ltx-tiny",
            "prompt": "long",
            "width": 128,
            "height": 128,
            "num_frames": 9,
            "frame_rate": 8,
            "num_inference_steps": 200,
        },
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        progress = httpx.get(
            f"{diffusion_server.url}/v1/videos/{video['id']}", headers={"Authorization": f"Bearer {key}"}
        ).json()["progress"]
        if 10 <= progress < 90:
            break
        time.sleep(0.05)
    else:
        pytest.fail("denoising never got going")
    deleted = httpx.delete(
        f"{diffusion_server.url}/v1/videos/{video['id']}", headers={"Authorization": f"Bearer {key}"}
    )
    assert deleted.json()["deleted"] is True
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        _, ledger = balance(diffusion_server, created["id"])
        if sorted(e["reason"] for e in ledger if e["taskId"] == video["id"]) == ["debit", "refund"]:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"no refund after the cancel: {ledger}")
    assert balance(diffusion_server, created["id"])[0] == 100
    # the worker is free again for the next task
    after = create(
        diffusion_server,
        key,
        {"model": "ltx-tiny", "prompt": "next", "width": 64, "height": 64, "num_frames": 9, "frame_rate": 8},
    )
    assert watch(diffusion_server, key, after["id"])[0]["status"] == "completed"


def test_constraints_are_checked_before_any_credit(diffusion_server: ServerProcess) -> None:
    created = new_key(diffusion_server, credits=100)
    response = httpx.post(
        f"{diffusion_server.url}/v1/videos",
        headers={"Authorization": f"Bearer {created['key']}"},
        json={"model": "ltx-tiny", "prompt": "x", "width": 63, "height": 64, "num_frames": 9},
    )
    assert response.status_code == 400 and response.json()["error"]["param"] == "/width"
    assert balance(diffusion_server, created["id"])[0] == 100


def test_the_catalog_lists_diffusion_models_with_capabilities(diffusion_server: ServerProcess) -> None:
    response = httpx.get(f"{diffusion_server.url}/api/v1/models")
    assert response.status_code == 200
    listed = {model["name"]: model for model in response.json()["models"]}
    assert listed["ltx-tiny"]["engine"] == "diffusion"
    assert "text_to_video" in listed["ltx-tiny"]["capabilities"]["kinds"]


def test_ltx2_through_the_server_has_sound_and_says_where_its_seconds_went(
    diffusion_server: ServerProcess, tmp_path: Path
) -> None:
    import av

    key = new_key(diffusion_server, credits=100)["key"]
    body = {"model": "ltx2-tiny", "prompt": "rain", "width": 64, "height": 64, "num_frames": 17, "frame_rate": 8}
    video, _ = watch(diffusion_server, key, create(diffusion_server, key, body)["id"], timeout=300)
    assert video["status"] == "completed", video
    info, pixels = frames_of(diffusion_server, key, video["id"], tmp_path / "ltx2.mp4")
    assert (info.width, info.height, len(pixels)) == (64, 64, 17)
    with av.open(str(tmp_path / "ltx2.mp4")) as container:
        (audio,) = container.streams.audio
        samples = sum(frame.samples for frame in container.decode(audio))
        assert audio.codec_context.name == "aac"
        assert samples / audio.codec_context.sample_rate == pytest.approx(17 / 8, abs=1024 / 16000)

    timings = video["timings"]
    for stage in (*STAGES, "run", "store", "total"):
        assert timings[stage] >= 0, (stage, timings)
    assert timings["steps_done"] == 4 and len(timings["steps"]) == 4
    # the engine's stages (plus a load or warm-up this task waited for) make up its run; run + store the total
    engine_stages = sum(timings.get(stage, 0.0) for stage in (*STAGES, "load", "warmup"))
    assert engine_stages == pytest.approx(timings["run"], rel=0.1, abs=0.1)
    assert timings["run"] + timings["store"] == pytest.approx(timings["total"], abs=0.01)
    # preloaded and warmed up when the worker started, not on this task's time
    log = diffusion_server.log()
    assert "warmed up ltx2 at 32x32, 9 frames" in log

    # the same record in the other dialects that show task details
    headers = {"key": key}
    details = httpx.get(f"{diffusion_server.url}/api/v1/tasks/{video['id']}", headers=headers).json()
    assert details["timings"] == timings


def test_a_worker_refuses_to_start_on_levers_its_machine_cannot_run(tmp_path: Path) -> None:
    """fp8 compute and a flash-attention backend on this CPU-only machine: both named, nothing started."""
    models = tmp_path / "models.toml"
    models.write_text(
        """
[models.fast]
engine = "diffusion"
kind = "text_to_video"
description = "x"
credits_per_second = 1

[models.fast.settings]
family = "ltx"
weights = "/nonexistent/ltx"
quantize = "fp8"
attention = "flash"
"""
    )
    env = {"REELFORGE_MODELS_FILE": str(models), "HF_HUB_OFFLINE": "1"}
    for command in (["worker"], ["serve", "--port", "0"]):
        result = run_cli(tmp_path / "data", *command, env=env, check=False)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert "cannot start" in result.stderr
        assert "model 'fast': quantize = 'fp8' needs a CUDA GPU with fp8 compute" in result.stderr
        assert "model 'fast': attention = 'flash' cannot run here" in result.stderr
